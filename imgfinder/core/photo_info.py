"""What the app knows about one photo as a person sees it (``PhotoInfo``): dimensions,
format, date taken, camera, lens, exposure and place, with the short texts the app and the
command line show them as. Plain data, no Pillow: the catalog stores these fields
(``EXIF_FIELDS``) and ``core.metadata`` reads them from a file's header.
"""

from __future__ import annotations

from dataclasses import dataclass

MAP_URL = "https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=16/{lat:.6f}/{lon:.6f}"

# The EXIF fields beside the file's own facts, in the order the catalog stores them
# (``Catalog`` keeps one row of these per file).
EXIF_FIELDS = (
    "format", "date_taken", "date_subsec", "date_offset", "make", "model", "lens_make", "lens_model",
    "exposure_time", "f_number", "iso", "focal_length", "latitude", "longitude", "altitude",
)


@dataclass(frozen=True)
class PhotoInfo:
    path: str
    size: int | None = None
    width: int | None = None  # as displayed (EXIF orientation applied)
    height: int | None = None
    format: str | None = None
    date_taken: str | None = None  # "YYYY-MM-DD HH:MM:SS" (local time of the camera)
    make: str | None = None
    model: str | None = None
    error: str | None = None
    date_subsec: str | None = None  # digits of the fraction of a second ("095": 0.095 s)
    date_offset: str | None = None  # the camera's offset from UTC, "+02:00"
    lens_make: str | None = None
    lens_model: str | None = None
    exposure_time: float | None = None  # seconds
    f_number: float | None = None
    iso: int | None = None
    focal_length: float | None = None  # millimetres (the lens's own, not 35 mm equivalent)
    latitude: float | None = None  # decimal degrees, north positive
    longitude: float | None = None  # decimal degrees, east positive
    altitude: float | None = None  # metres above sea level (negative: below)

    @property
    def camera(self) -> str | None:
        """Make and model without the make repeated ("Canon Canon EOS" -> "Canon EOS")."""
        return _joined(self.make, self.model)

    @property
    def lens(self) -> str | None:
        """Lens make and model, the make not repeated."""
        return _joined(self.lens_make, self.lens_model)

    @property
    def taken(self) -> str | None:
        """Date taken with its UTC offset when the camera wrote one ("2024-05-01 10:00:00 +02:00")."""
        if not self.date_taken:
            return None
        return f"{self.date_taken} {self.date_offset}" if self.date_offset else self.date_taken

    @property
    def exposure(self) -> str | None:
        """"1/250 s · f/2.8 · ISO 400 · 35 mm": the parts the camera wrote, None if none."""
        parts = [
            shutter_text(self.exposure_time), aperture_text(self.f_number),
            f"ISO {self.iso}" if self.iso else None, focal_text(self.focal_length),
        ]
        return " · ".join(p for p in parts if p) or None

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def location(self) -> str | None:
        """"48.8584° N, 2.2945° E", None without GPS."""
        if self.latitude is None or self.longitude is None:
            return None
        return coordinates_text(self.latitude, self.longitude)

    @property
    def altitude_text(self) -> str | None:
        """"35 m above sea level" ("12 m below sea level"), None when not recorded."""
        if self.altitude is None:
            return None
        return f"{abs(self.altitude):.0f} m {'below' if self.altitude < 0 else 'above'} sea level"

    @property
    def map_url(self) -> str | None:
        """The place on OpenStreetMap (nothing is fetched until someone opens it)."""
        if self.latitude is None or self.longitude is None:
            return None
        return MAP_URL.format(lat=self.latitude, lon=self.longitude)

    def exif_values(self) -> tuple:
        """The values of ``EXIF_FIELDS``, in order (what the catalog stores)."""
        return tuple(getattr(self, name) for name in EXIF_FIELDS)

    def exif_json(self) -> dict:
        """The EXIF facts for scripts: raw values (None when unknown) and the compact texts."""
        out: dict = {name: getattr(self, name) for name in EXIF_FIELDS if name != "format"}
        out["camera"], out["lens"], out["exposure"] = self.camera, self.lens, self.exposure
        return out


def _joined(make: str | None, model: str | None) -> str | None:
    make, model = (make or "").strip(), (model or "").strip()
    if make and model.lower().startswith(make.split()[0].lower()):
        return model
    return " ".join(x for x in (make, model) if x) or None


def shutter_text(seconds: float | None) -> str | None:
    """1/250 s, 1/3 s, 0.4 s, 2 s, 30 s."""
    if seconds is None:
        return None
    if seconds < 1:
        n = 1 / seconds
        if n >= 1.5 and abs(n - round(n)) <= 0.03 * n:
            return f"1/{round(n)} s"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


def aperture_text(f_number: float | None) -> str | None:
    """f/2.8, f/8, f/1.4."""
    return None if f_number is None else f"f/{round(f_number, 1):g}"


def focal_text(mm: float | None) -> str | None:
    """35 mm, 4.2 mm."""
    if mm is None:
        return None
    return f"{round(mm):d} mm" if mm >= 10 else f"{round(mm, 1):g} mm"


def coordinates_text(latitude: float, longitude: float) -> str:
    """"48.8584° N, 2.2945° E" (four decimals: about ten metres)."""
    ns = "N" if latitude >= 0 else "S"
    ew = "E" if longitude >= 0 else "W"
    return f"{abs(latitude):.4f}° {ns}, {abs(longitude):.4f}° {ew}"

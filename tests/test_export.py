import csv
import json
import shutil
from pathlib import Path

from conftest import small_copy
from imgfinder import cli
from imgfinder.core.export import groups_json, write_csv, write_json


def test_export_matches_cli_json_and_csv(library, small_photos, tmp_path: Path, capsys) -> None:
    lib_dir = tmp_path / "lib"
    shutil.copy(small_photos[0], lib_dir / "exact.jpg")
    small_copy(small_photos[1], lib_dir / "smaller.jpg", max_side=160, quality=60)
    for _ in library.indexer(batch_size=4, workers=2).run([str(lib_dir)]):
        pass
    groups = library.duplicate_finder().groups(0.95)
    assert groups
    out = tmp_path / "groups.json"
    write_json(out, groups, 0.95, library.catalog.problems(), library.catalog)
    ours = json.loads(out.read_text())
    assert ours == groups_json(groups, 0.95, [], library.catalog)
    assert all("exif" in f for g in ours["groups"] for f in g["files"])  # the EXIF facts of each file
    code = cli.main(["duplicates", "--json", "--quiet", "--threshold", "0.95", "--data-dir", str(library.data_dir)],
                    embedder_factory=lambda: library.embedder)
    assert code == 0
    theirs = json.loads(capsys.readouterr().out)
    assert ours == theirs
    out_csv = tmp_path / "groups.csv"
    write_csv(out_csv, groups)
    code = cli.main(["duplicates", "--format", "csv", "--quiet", "--threshold", "0.95", "--data-dir",
                     str(library.data_dir)], embedder_factory=lambda: library.embedder)
    assert code == 0 and capsys.readouterr().out.encode() == out_csv.read_bytes()  # the CLI's CSV is the app's
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == sum(len(g.members) for g in groups)
    assert rows[0]["keep"] == "1" and rows[0]["group"] == "1" and rows[0]["path"] == groups[0].keeper.row.path

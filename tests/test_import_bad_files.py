import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from guidance.models import ChangeSet, Guidance

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[1] / "guidance" / "samples"
GOOD = (SAMPLES / "mtg1.md").read_bytes()


def run_import(capsys, *paths, options=()):
    """Run import_guidance as an operator would; return (failed, stdout, stderr)."""
    try:
        call_command("import_guidance", *map(str, paths), *options)
        failed = False
    except CommandError as error:
        failed = str(error)
    captured = capsys.readouterr()
    return failed, captured.out, captured.err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (GOOD.replace(b"1.2 SeQuent", b"1.2 Se\x00Quent"), "line 16: a NUL byte: this is a binary"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 3: a NUL byte: this is a binary file"),
        (GOOD.replace(b"\xc2\xa3467", b"\xa3467"), "line 14: not UTF-8 text (byte 0xa3)"),
        (GOOD.replace(b"1.2 SeQuent", b"1.2 Se\x07Quent"), "line 16: control character '\\x07'"),
    ],
    ids=["nul-byte", "binary", "latin-1", "control-character"],
)
def test_a_bad_file_is_reported_with_its_line_and_the_next_file_is_imported(
    tmp_path, capsys, content, expected
):
    bad, good = tmp_path / "bad.md", tmp_path / "htg501.txt"
    bad.write_bytes(content)
    shutil.copy(SAMPLES / "htg501.txt", good)

    failed, out, err = run_import(capsys, bad, good)

    assert failed == "1 of 2 files not imported"
    assert f"{bad}, {expected}" in err
    assert "Traceback" not in err
    assert "HTG501: created" in out
    assert Guidance.objects.filter(reference="HTG501").exists()
    assert not Guidance.objects.filter(reference="MTG1").exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, capsys, settings):
    settings.GUIDANCE_IMPORT_MAX_BYTES = 4_000
    big = tmp_path / "big.md"
    big.write_bytes(GOOD)  # 5,027 bytes

    failed, _out, err = run_import(capsys, big)

    assert failed == "1 of 1 files not imported"
    assert f"{big}: 5,027 bytes, over the import limit of 4,000" in err
    failed, out, _err = run_import(capsys, big, options=["--max-bytes", "10000"])
    assert not failed and "MTG1: created" in out


def test_a_paragraph_over_the_length_limit_is_refused_at_its_line(tmp_path, capsys, settings):
    settings.GUIDANCE_IMPORT_MAX_PARAGRAPH = 1_000
    long = tmp_path / "long.md"
    long.write_bytes(GOOD.replace(b"2.6 Various", b"2.6 " + b"Very long. " * 100 + b"Various"))

    failed, _out, err = run_import(capsys, long)

    assert failed
    assert f"{long}, line 41: a paragraph longer than 1,000 characters" in err
    assert not ChangeSet.objects.filter(source="import").exists()


def test_a_file_that_cannot_be_read_is_reported(tmp_path, capsys):
    failed, _out, err = run_import(capsys, tmp_path / "missing.md")
    assert failed == "1 of 1 files not imported"
    assert "missing.md: cannot read: No such file or directory" in err

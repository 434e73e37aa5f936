"""The command line's errors speak its own language, in one line: a bad command line exits 2 (argparse's errors
and the commands' own usage errors), a failure while running exits 1. Ray's own log lines stay off the terminal,
and a resumed run says how much was already done, on both backends."""
from __future__ import annotations

import json

import numpy as np
import pytest

from test_cli import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def shape(tmp_path_factory):
    """One planted-shapes PNG for the bundled demo model (4 classes) and labels files of 3 and 4 names."""
    from PIL import Image

    from superexplain.datasets import load_demo_model, make_shapes

    folder = tmp_path_factory.mktemp("errors")
    load_demo_model().save(folder / "demo.keras")
    Image.fromarray((make_shapes(1, seed=4).images[0] * 255).round().astype(np.uint8)).save(folder / "shape.png")
    (folder / "three.txt").write_text("a\nb\nc\n")
    (folder / "four.txt").write_text("circle\nsquare\ntriangle\ncross\n")
    return str(folder / "demo.keras"), folder


USAGE_ERRORS = [
    (("--labels", "{folder}/three.txt"), "--labels has 3 names but the model has 4 outputs"),
    (("--target", "7"), "--target 7 is out of range: the model has 4 classes (0..3)"),
    (("--target", "dog", "--labels", "{folder}/four.txt"), "--target 'dog' is not a known class name"),
    (("--seed", "3"), "--seed does not apply to --method gradcam"),
    (("--method", "saliency", "--num-samples", "10"), "--num-samples does not apply to --method saliency"),
    (("--num-workers", "2"), "--num-workers applies to --backend ray"),
    (("--format", "gif"), "--format must be a comma-separated list"),
    (("--size", "ax3"), "--size must look like HxW"),
    (("--kind", "pie"), "argument --kind: invalid choice"),  # argparse's own
]


@pytest.mark.parametrize("flags, message", USAGE_ERRORS, ids=[m.split(" ")[0] + str(i) for i, (_, m) in
                                                             enumerate(USAGE_ERRORS)])
def test_a_bad_explain_command_line_exits_2_with_one_line_in_the_cli_words(shape, tmp_path, flags, message):
    model, folder = shape
    flags = [flag.format(folder=folder) for flag in flags]
    result = run_cli("explain", model, str(folder / "shape.png"), *flags, "--out", str(tmp_path / "out"))
    assert_one_line_error(result, message)
    assert result.returncode == 2, result.stderr
    assert "class_names" not in result.stderr and "targets[" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags, message", [
    (("--methods", "gradcam,saliency", "--seed", "1"), "--seed does not apply to --methods gradcam,saliency"),
    (("--methods", "lime,saliency", "--layer", "last_conv"), "--layer does not apply to --methods lime,saliency"),
    (("--methods", "gradcam,nope"), "--methods: unknown method 'nope'"),
])
def test_a_bad_compare_command_line_exits_2(shape, tmp_path, flags, message):
    model, folder = shape
    result = run_cli("compare", model, str(folder / "shape.png"), *flags, "--out", str(tmp_path / "c.png"))
    assert_one_line_error(result, message)
    assert result.returncode == 2


def test_a_failure_while_running_exits_1(shape, tmp_path):
    model, folder = shape
    result = run_cli("explain", model, str(folder / "missing.png"), "--out", str(tmp_path / "out"))
    assert_one_line_error(result, "missing.png", "does not exist")
    assert result.returncode == 1


def test_compare_takes_layer_and_methods_of_every_family(shape, tmp_path):
    model, folder = shape
    result = run_cli("compare", model, str(folder / "shape.png"), "--methods", "gradcam,lime,integrated_gradients",
                     "--layer", "conv3", "--num-samples", "30", "--out", str(tmp_path / "c.png"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["methods"] == ["gradcam", "lime", "integrated_gradients"] and len(summary["agreement"]) == 3
    assert (tmp_path / "c.png").is_file()


def test_local_resume_says_how_much_was_done(shape, tmp_path):
    model, folder = shape
    command = ("explain", model, str(folder / "shape.png"), "--out", str(tmp_path / "run"))
    first = run_cli(*command)
    assert first.returncode == 0, first.stderr
    assert "resuming" not in first.stdout
    again = run_cli(*command, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["resumed"] == {"done": 1, "total": 1}
    assert "resuming: 1 of 1 already done" in run_cli(*command).stdout


def test_ray_keeps_its_log_lines_off_the_terminal_and_says_when_it_resumes(shape, tmp_path):
    pytest.importorskip("ray")
    model, folder = shape
    command = ("explain", model, str(folder / "shape.png"), "--backend", "ray", "--num-workers", "1", "--labels",
               str(folder / "four.txt"), "--out", str(tmp_path / "run"))
    result = run_cli(*command, timeout=400)
    assert result.returncode == 0, result.stderr
    for noise in ("core_worker", "authentication_token", "object store", "INFO", "WARNING"):
        assert noise not in result.stderr, result.stderr
    assert "explain_dataset gradcam" in result.stderr  # the progress bar still shows
    (png,) = (tmp_path / "run" / "explanations").glob("*.png")
    assert png.name.startswith("000000_shape_t") and png.stem.split("_")[-1] in ("circle", "square", "triangle",
                                                                                  "cross")
    again = run_cli(*command, timeout=400)
    assert again.returncode == 0, again.stderr
    assert "resuming: 1 of 1 already done" in again.stdout
    assert "core_worker" not in again.stderr


def documented_commands() -> list[list[str]]:
    """Every `superexplain ...` command of the README's command-line section, docs/cli.md and the --help
    examples, as argument lists (continuation lines joined, comments dropped)."""
    import os
    import re
    import shlex

    from superexplain.cli import _compare, _explain

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    section = readme[readme.index("## The command line"):]
    section = section[:section.index("\n## ", 3)]
    texts = [section, open(os.path.join(root, "docs", "cli.md"), encoding="utf-8").read(),
             _explain.EXAMPLES, _compare.EXAMPLES]
    commands = []
    for text in texts:
        joined = re.sub(r"\\\n\s*", " ", text)  # a backslash at the end of a line continues it
        for line in joined.splitlines():
            line = line.strip().split(" # ")[0].split("  #")[0]
            if line.startswith("superexplain ") and not line.startswith("superexplain reads"):
                commands.append(shlex.split(line)[1:])
    return commands


def test_every_documented_command_parses_and_passes_the_flag_checks():
    from superexplain.cli import build_parser
    from superexplain.cli._explain import _method_flags

    commands = documented_commands()
    assert len(commands) > 15 and any("--num-workers" in c for c in commands)
    parser = build_parser()
    for command in commands:
        args = parser.parse_args(command)  # exits 2 on a bad flag
        if args.command == "explain":
            _method_flags(args)  # a flag the method does not take, --seed with a deterministic method, ...


@pytest.mark.parametrize("command", ["explain", "compare", "sanity", "superpixels", "demo"])
def test_help_never_shows_default_none_nor_a_default_twice(command, capsys):
    import re

    from superexplain.cli import build_parser

    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([command, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "options:" in text and "(default: None)" not in text
    for flag_help in re.split(r"\s--?[a-z]", text):  # one flag's help: at most one stated default
        assert flag_help.count("(default:") <= 1, flag_help

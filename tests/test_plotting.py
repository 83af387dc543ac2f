"""Figures are written without touching matplotlib's global backend (a notebook keeps its own)."""

import subprocess
import sys
import textwrap


def test_writing_a_figure_keeps_the_users_backend(tmp_path):
    # In a fresh interpreter: the user picks a backend (as a notebook does), then imports sciml and
    # writes a figure; the backend must still be theirs afterwards.
    code = textwrap.dedent(f"""
        import matplotlib
        matplotlib.use("svg")
        import sciml, sciml.plotting, sciml.validation.runner
        fig, ax = sciml.plotting.subplots(figsize=(3, 2))
        ax.plot([0, 1], [1, 0])
        path = sciml.plotting.save_figure(fig, {str(tmp_path / 'f.png')!r})
        assert path.stat().st_size > 1000, path.stat().st_size
        print(matplotlib.get_backend())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().lower() == "svg"
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

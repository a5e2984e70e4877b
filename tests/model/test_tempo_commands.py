"""Half and double tempo: the grid switches to its detected alternative and the cuts stay on the music."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import pytest

from app.model import Act, BeatGrid, MediaRef, Project, ProjectSettings, Section
from app.model.beat_commands import AddBeatMarker, NudgeBeatGrid, RemoveBeatMarker, SetTempoFromTaps
from app.model.commands import EditError
from app.model.history import History
from app.model.project import MetricalAlternative
from app.model.project_file import ProjectError, dumps_project, load_project, save_project
from app.model.tempo_commands import SwitchMetricalLevel

FPS = 24
#: A grid at 24 fps whose every other beat comes 12 frames after a kept one and 14 before the next: the
#: half level keeps frames 12, 38, 64, … (the downbeats' parity) and drops 24, 50, 76, ….
KEPT = [12 + 26 * j for j in range(12)]
DROPPED = [frame + 12 for frame in KEPT]
BEATS = sorted(KEPT + DROPPED)


def _seconds(frames: list[int]) -> tuple[float, ...]:
    return tuple(frame / FPS for frame in frames)


def _grid(**update: object) -> BeatGrid:
    downbeats = BEATS[::4]
    half = MetricalAlternative(
        name="half", tempo=55.4, meter=4, beats=_seconds(KEPT), downbeats=_seconds(KEPT[::4])
    )
    middles = [frame + 6 for frame in BEATS]
    double = MetricalAlternative(
        name="double", tempo=221.5, meter=4, beats=_seconds(sorted(BEATS + middles)), downbeats=()
    )
    grid = BeatGrid(
        source=MediaRef(path="music.wav"),
        tempo=110.8,
        meter=4,
        beats=_seconds(BEATS),
        downbeats=_seconds(downbeats),
        sections=(Section(start=0.0, end=14.0, label="A", energy=0.5),),
        alternatives=(half, double),
    )
    return grid.model_copy(update=update)


def _project(durations: list[int], grid: BeatGrid | None = None) -> Project:
    acts = [Act(id=f"a{i}", name=f"A{i}", duration_frames=d) for i, d in enumerate(durations)]
    return Project(settings=ProjectSettings(fps=Fraction(FPS)), acts=acts, beats=grid or _grid())


def _durations(cuts: list[int], end: int) -> list[int]:
    bounds = [0, *cuts, end]
    return [b - a for a, b in itertools.pairwise(bounds)]


def _act_lengths_in_beats(project: Project) -> list[int]:
    beats = project.beats.beat_frames(project.settings.fps)
    starts = [0, *project.cut_frames()]
    ends = [*project.cut_frames(), project.duration_frames]
    return [sum(1 for b in beats if a < b <= z) for a, z in zip(starts, ends, strict=True)]


def test_half_keeps_cuts_on_kept_beats_and_moves_a_cut_on_a_dropped_beat_to_the_nearest_kept_one() -> None:
    cuts = [KEPT[1], DROPPED[3], KEPT[5], 260]  # 260: between beats, placed by hand
    project = _project(_durations(cuts, 300))
    history = History(project)
    command = SwitchMetricalLevel("half")

    changes = history.execute(command)

    project.check_consistency()
    assert project.beats.beat_frames(project.settings.fps) == KEPT
    assert project.beats.tempo == 55.4 and history.undo_label == "Half tempo"
    # DROPPED[3] = 102 is 12 frames after KEPT[3] = 90 and 14 before KEPT[4] = 116
    assert project.cut_frames() == [KEPT[1], KEPT[3], KEPT[5], 260]
    assert project.duration_frames == 300
    assert changes.beats and changes.acts == {"a1", "a2"}
    assert command.result is not None
    assert command.result.summary == "Tempo 111 → 55 BPM; 1 cut moved to the nearest beat"


def test_after_halving_no_act_is_shorter_than_a_beat() -> None:
    # Acts of one beat each, starting on the second beat: half of them end on beats the half grid lacks.
    cuts = BEATS[1:9]
    project = _project(_durations(cuts, BEATS[9]))
    old_order = [act.id for act in project.acts]
    command = SwitchMetricalLevel("half")

    History(project).execute(command)

    project.check_consistency()
    assert [act.id for act in project.acts] == old_order
    assert set(project.cut_frames()) <= set(KEPT)
    assert all(count >= 1 for count in _act_lengths_in_beats(project))
    # The first act needs a whole beat of the half grid after 0 (KEPT[0]..KEPT[1] long): it ends on KEPT[1];
    # every later act gets the next kept beat, and the last one moves the end of the film on to KEPT[9].
    assert project.cut_frames() == KEPT[1:9]
    assert project.duration_frames == KEPT[9]
    assert command.result is not None
    assert command.result.summary == (
        "Tempo 111 → 55 BPM; 8 cuts moved later so that every act lasts a beat, the film is 4.9 s longer"
    )


def test_undo_restores_grid_and_cuts_exactly_and_redo_repeats_the_switch() -> None:
    project = _project(_durations([DROPPED[0], KEPT[2], DROPPED[4], DROPPED[5]], 320))
    before = dumps_project(project)
    history = History(project)
    history.execute(SwitchMetricalLevel("half"))
    after = dumps_project(project)
    assert after != before

    history.undo()
    assert dumps_project(project) == before
    history.redo()
    assert dumps_project(project) == after
    project.check_consistency()


def test_half_then_double_returns_the_original_grid() -> None:
    grid = _grid()
    project = _project(_durations([KEPT[2], KEPT[6]], 320), grid)
    history = History(project)

    history.execute(SwitchMetricalLevel("half"))
    halved = project.beats
    assert [a.name for a in halved.alternatives] == ["half", "double"]
    assert halved.alternative("double") == MetricalAlternative(
        name="double", tempo=grid.tempo, meter=4, beats=grid.beats, downbeats=grid.downbeats
    )
    # A fresh half of the new grid: every other kept beat, its bars counted from the first downbeat.
    quarter = halved.alternative("half")
    assert quarter is not None and quarter.tempo == pytest.approx(27.7)
    assert quarter.beats == _seconds(KEPT[::2]) and quarter.downbeats[0] == grid.downbeats[0]

    history.execute(SwitchMetricalLevel("double"))
    restored = project.beats
    assert history.undo_label == "Double tempo"
    for name in ("source", "tempo", "meter", "beats", "downbeats", "sections"):
        assert getattr(restored, name) == getattr(grid, name), name
    assert restored.alternative("half") == grid.alternative("half")
    double = restored.alternative("double")  # a fresh double: the beats and the midpoints between them
    assert double is not None and set(grid.beats) <= set(double.beats)
    assert len(double.beats) == 2 * len(grid.beats) - 1 and double.tempo == pytest.approx(221.6)
    assert project.cut_frames() == [KEPT[2], KEPT[6]]  # cuts on kept beats never moved


def test_double_keeps_every_cut() -> None:
    project = _project(_durations([DROPPED[0], KEPT[2], 150], 320))
    command = SwitchMetricalLevel("double")
    changes = History(project).execute(command)
    assert project.cut_frames() == [DROPPED[0], KEPT[2], 150]
    assert changes.beats and not changes.acts
    assert command.result is not None and command.result.summary == "Tempo 111 → 222 BPM; no cuts moved"


def test_manual_corrections_stay_where_they_still_mean_something() -> None:
    between = 25 / FPS  # a hand-placed beat no level detects
    off_beat = (BEATS[4] + 6) / FPS  # a hand-placed off-beat: the double level detects it
    grid = _grid(added=(between, off_beat), removed=_seconds([KEPT[3], DROPPED[5]]))

    halved = _project([320], grid)
    History(halved).execute(SwitchMetricalLevel("half"))
    assert halved.beats.added == (between, off_beat)
    assert halved.beats.removed == _seconds([KEPT[3]])  # the half grid has no DROPPED[5] to hide
    halved.check_consistency()

    doubled = _project([320], grid)
    History(doubled).execute(SwitchMetricalLevel("double"))
    assert doubled.beats.added == (between,)  # the off-beat is a detected beat now
    assert doubled.beats.removed == _seconds([KEPT[3], DROPPED[5]])
    assert doubled.beats.effective_beats().count(off_beat) == 1
    doubled.check_consistency()


def test_a_grid_without_the_alternative_is_refused_with_a_clear_message() -> None:
    project = _project([240], _grid(alternatives=()))
    before = dumps_project(project)
    history = History(project)
    with pytest.raises(EditError, match=r"No half-tempo grid to switch to: tapped beats"):
        history.execute(SwitchMetricalLevel("half"))
    with pytest.raises(EditError, match=r"tempo level must be 'half' or 'double', got 'triple'"):
        history.execute(SwitchMetricalLevel("triple"))
    assert dumps_project(project) == before and not history.can_undo


def test_markers_leave_the_alternatives_and_nudge_shifts_them() -> None:
    project = _project([320])
    history = History(project)
    history.execute(RemoveBeatMarker(BEATS[3] / FPS))
    history.execute(AddBeatMarker(1.1))
    assert project.beats.alternatives == _grid().alternatives

    history.execute(NudgeBeatGrid(0.1))
    half = project.beats.alternative("half")
    assert half is not None
    assert half.beats == pytest.approx([t + 0.1 for t in _seconds(KEPT)])
    assert half.downbeats == pytest.approx([t + 0.1 for t in _seconds(KEPT[::4])])
    with pytest.raises(EditError, match="before 0 s"):  # alternatives count: the double starts 0.25 s later
        history.execute(NudgeBeatGrid(-0.7))
    project.check_consistency()


def test_tap_tempo_drops_the_alternatives() -> None:
    project = _project([320])
    History(project).execute(SetTempoFromTaps([1.0, 1.5, 2.0, 2.5]))
    assert project.beats.alternatives == ()
    assert project.beats.source == _grid().source


def test_the_file_keeps_the_alternatives(tmp_path: Path) -> None:
    project = _project([100, 220])
    path = tmp_path / "p.storybeat"
    save_project(project, path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["schema_version"] == 5
    assert [a["name"] for a in saved["beats"]["alternatives"]] == ["half", "double"]
    loaded = load_project(path)
    assert loaded.beats == project.beats
    assert project.moved(tmp_path, tmp_path / "sub").beats.alternatives == project.beats.alternatives

    saved["beats"]["alternatives"][0]["beats"] = [2.0, 1.0]
    path.write_text(json.dumps(saved), encoding="utf-8")
    with pytest.raises(ProjectError, match=r"alternatives.*beat times must be sorted"):
        load_project(path)


def test_a_version_4_file_has_no_alternatives(tmp_path: Path) -> None:
    path = tmp_path / "v4.storybeat"
    grid = {"tempo": 120.0, "beats": [0.5, 1.0, 1.5], "downbeats": [0.5]}
    path.write_text(json.dumps({"schema_version": 4, "acts": [], "beats": grid}), encoding="utf-8")
    project = load_project(path)
    assert project.beats.alternatives == ()
    with pytest.raises(EditError, match="No double-tempo grid"):
        History(project).execute(SwitchMetricalLevel("double"))

"""The media bin: importing, thumbnails, Delete in the bin, Add to Timeline, dragging onto the timeline, and
the File and Edit menu entries; results checked on the document."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QModelIndex, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QAction, QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QToolButton
from pytestqt.qtbot import QtBot

from app.engine.cache import StageCache
from app.engine.worker import DraftService
from app.model import Act, AudioClip, BeatGrid, MediaRef, Project, ProjectSettings
from app.model.bin_commands import MediaKind, new_act_frames
from app.model.commands import AddAudioClip, SetActField
from app.model.project_file import dumps_project, save_project
from app.model.recovery import RecoveryStore
from app.ui import media_bin as media_bin_module
from app.ui.document import DocumentController
from app.ui.main_window import MainWindow
from app.ui.media_bin import THUMBNAIL_SIZE, MediaBinPanel
from app.ui.media_import import MEDIA_FILTERS, Refused, refusal_message
from app.ui.preferences import Preferences
from app.ui.timeline import TimelineView
from app.ui.timeline.geometry import RowKind
from tests.engine.audio_fixtures import tone, write_wav

LEFT = Qt.MouseButton.LeftButton
NO_MODIFIER = Qt.KeyboardModifier.NoModifier
CONTROL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
#: Qt 6.12 deprecates the QPoint constructors of drag events for QPointF ones, which older Qt lacks.
_OLD_DRAG_EVENTS = pytest.mark.filterwarnings("ignore:Function.*QDrag.*deprecated:DeprecationWarning")


def _picture(path: Path, colour: str = "orange") -> Path:
    image = QImage(64, 36, QImage.Format.Format_RGB888)
    image.fill(QColor(colour))
    assert image.save(str(path))  # the format follows the suffix
    return path


def _sound(path: Path, seconds: float = 2.0) -> Path:
    return write_wav(path, tone(440.0, seconds, 8000), 8000)


def _project() -> Project:
    return Project(
        settings=ProjectSettings(fps=Fraction(24)),
        acts=[
            Act(id="a0", name="Act 0", duration_frames=48, references=[MediaRef(path="used.png")]),
            Act(id="a1", name="Act 1", duration_frames=48),
        ],
        beats=BeatGrid(tempo=120.0),
    )


@pytest.fixture
def document(tmp_path: Path) -> DocumentController:
    _picture(tmp_path / "used.png", "navy")
    return DocumentController(_project(), path=tmp_path / "film.storybeat")


@pytest.fixture
def window(qtbot: QtBot, document: DocumentController) -> Iterator[QMainWindow]:
    """The bin docked beside a timeline in a main window whose status bar shows the document's messages."""
    main = QMainWindow()
    qtbot.addWidget(main)
    document.message.connect(main.statusBar().showMessage)
    main.setCentralWidget(TimelineView(document, None))
    panel = MediaBinPanel(document)
    panel.set_active(True)  # alone in its dock: on screen
    dock = QDockWidget("Media", main)
    dock.setWidget(panel)
    main.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    main.resize(1000, 420)
    main.show()
    qtbot.waitExposed(main)
    yield main
    panel.shutdown()


@pytest.fixture
def panel(window: QMainWindow) -> MediaBinPanel:
    found = window.findChild(MediaBinPanel)
    assert isinstance(found, MediaBinPanel)
    return found


@pytest.fixture
def timeline(window: QMainWindow) -> TimelineView:
    view = window.centralWidget()
    assert isinstance(view, TimelineView)
    return view


def _messages(document: DocumentController) -> list[str]:
    messages: list[str] = []
    document.message.connect(messages.append)
    return messages


def _row(panel: MediaBinPanel, name: str) -> int:
    return next(row for row, item in enumerate(panel.model.items) if item.name == name)


def _click_item(
    qtbot: QtBot, panel: MediaBinPanel, name: str, modifier: Qt.KeyboardModifier = NO_MODIFIER
) -> None:
    index = panel.model.index(_row(panel, name))
    rect = panel.list.visualRect(index)
    assert rect.isValid(), f"{name} is not on screen"
    qtbot.mouseClick(panel.list.viewport(), LEFT, modifier, rect.center())


def _button(panel: MediaBinPanel, text: str) -> QToolButton:
    return next(b for b in panel.findChildren(QToolButton) if b.defaultAction().text() == text)


# -- importing -------------------------------------------------------------------------------------------


def test_import_lists_the_files_with_their_kinds_as_one_undo_step(
    qtbot: QtBot, tmp_path: Path, panel: MediaBinPanel, document: DocumentController
) -> None:
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    (tmp_path / "media").mkdir()
    picture = _picture(tmp_path / "media" / "sunrise.JPG")
    song = _sound(elsewhere / "song.wav")
    messages = _messages(document)

    panel.import_files([picture, song])

    assert [ref.path for ref in document.project.media_bin] == [
        "media/sunrise.JPG",
        f"../{elsewhere.name}/song.wav",
    ]
    assert all(ref.sha256 for ref in document.project.media_bin)
    kinds = {item.name: (item.kind, item.in_bin, item.used) for item in panel.model.items}
    assert kinds == {
        "sunrise.JPG": (MediaKind.image, True, False),
        "song.wav": (MediaKind.audio, True, False),
        "used.png": (MediaKind.image, False, True),
    }
    assert document.history.undo_label == "Import 2 files" and messages == ["Imported 2 files"]
    # The sound's length is read off the GUI thread and shown under its name.
    qtbot.waitUntil(lambda: panel.model.state(_row(panel, "song.wav")) == "0:02")
    assert panel.model.tooltip(_row(panel, "song.wav")).startswith(str(song))

    document.undo()
    assert document.project.media_bin == [] and [item.name for item in panel.model.items] == ["used.png"]
    document.redo()
    assert len(panel.model.items) == 3


def test_a_text_file_named_jpg_is_refused_with_its_name_and_not_added(
    tmp_path: Path, panel: MediaBinPanel, document: DocumentController, window: QMainWindow
) -> None:
    fake = tmp_path / "holiday.jpg"
    fake.write_text("these are my notes, not a picture")
    messages = _messages(document)

    panel.import_files([fake])
    assert messages == [f"{fake}: not an image: text data"]
    assert window.statusBar().currentMessage() == messages[0]
    assert document.project.media_bin == [] and not document.history.can_undo

    messages.clear()
    good = _picture(tmp_path / "good.png")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    panel.import_files([fake, good, notes])
    assert [ref.path for ref in document.project.media_bin] == ["good.png"]
    assert messages == [
        "2 of 3 files were not imported: holiday.jpg: not an image: text data; notes.txt: not a picture or a "
        "sound (.txt)"
    ]


def test_refusal_lines_say_how_many_files_were_refused() -> None:
    one = [Refused(Path("/m/a.mp3"), "not an audio file")]
    assert refusal_message(one, 1) == "/m/a.mp3: not an audio file"
    assert refusal_message(one, 5) == "1 of 5 files was not imported: a.mp3: not an audio file"
    assert refusal_message(one * 2, 2, verb="added").startswith("2 of 2 files were not added: a.mp3")


@_OLD_DRAG_EVENTS
def test_files_dropped_on_the_bin_are_imported(
    tmp_path: Path, panel: MediaBinPanel, document: DocumentController
) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(_picture(tmp_path / "drop.png")))])
    position = panel.list.viewport().rect().center()
    enter = QDragEnterEvent(position, Qt.DropAction.CopyAction, mime, LEFT, NO_MODIFIER)
    QApplication.sendEvent(panel.list.viewport(), enter)
    assert enter.isAccepted()
    QApplication.sendEvent(
        panel.list.viewport(), QDragMoveEvent(position, Qt.DropAction.CopyAction, mime, LEFT, NO_MODIFIER)
    )
    QApplication.sendEvent(
        panel.list.viewport(),
        QDropEvent(QPointF(position), Qt.DropAction.CopyAction, mime, LEFT, NO_MODIFIER),
    )
    assert [ref.path for ref in document.project.media_bin] == ["drop.png"]


def _selected_names(panel: MediaBinPanel) -> list[str]:
    return [item.name for item in panel.selected_items()]


def test_a_copy_of_a_picture_in_use_is_not_listed_twice(
    tmp_path: Path, panel: MediaBinPanel, document: DocumentController
) -> None:
    """The same picture from another folder: not imported again, the user is told which entry it is, and
    that entry is selected."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = _picture(elsewhere / "used.png", "navy")  # the same bytes as the act's picture
    document.execute(SetActField("a0", "references", [MediaRef.for_file(tmp_path / "used.png", tmp_path)]))
    revision = document.history.revision
    messages = _messages(document)

    panel.import_files([copy])

    assert document.project.media_bin == [] and document.history.revision == revision
    assert messages == ["used.png is already in the bin (same picture as used.png in the project folder)"]
    assert [item.name for item in panel.model.items] == ["used.png"]
    assert _selected_names(panel) == ["used.png"]

    # Beside a new file, the new one is imported and the copy named in the same line.
    messages.clear()
    panel.import_files([copy, _picture(elsewhere / "new.png", "teal")])
    assert [ref.path for ref in document.project.media_bin] == ["elsewhere/new.png"]
    assert messages == [
        "Imported 1 file; used.png is already in the bin (same picture as used.png in the project folder)"
    ]


def test_two_files_of_the_same_name_show_their_folders(
    tmp_path: Path, panel: MediaBinPanel, document: DocumentController
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    panel.import_files([_picture(other / "used.png", "orange")])  # another picture, the same name

    assert [ref.path for ref in document.project.media_bin] == ["other/used.png"]
    shown = [panel.model.data(panel.model.index(row)) for row in range(panel.model.rowCount())]
    assert shown == [f"used.png — {tmp_path.name}/\n● in use", "used.png — other/"]


def test_an_import_is_added_at_the_end_selected_and_scrolled_into_view(
    qtbot: QtBot, tmp_path: Path, panel: MediaBinPanel, document: DocumentController
) -> None:
    colours = ["red", "green", "blue", "yellow", "cyan", "magenta", "gray", "white", "darkred", "darkgreen"]
    earlier = [_picture(tmp_path / f"shot{i:02d}.png", colour) for i, colour in enumerate(colours)]
    panel.import_files(earlier)
    assert _selected_names(panel) == [path.name for path in earlier]
    panel.list.scrollToTop()
    before = [item.name for item in panel.model.items]

    panel.import_files([_picture(tmp_path / "latest.png", "olive")])

    assert [item.name for item in panel.model.items] == [*before, "latest.png"]  # nothing moved
    assert _selected_names(panel) == ["latest.png"]
    assert panel.list.currentIndex().row() == len(before)
    rect = panel.list.visualRect(panel.model.index(len(before)))
    assert panel.list.verticalScrollBar().value() > 0, "the bin should be taller than its view here"
    assert panel.list.viewport().rect().contains(rect)


def test_a_cell_shows_a_twenty_character_name_whole_and_three_lines(panel: MediaBinPanel) -> None:
    """ "01_astronaut.jpg" was shortened to "01_astronaut.…" in a 124 px cell."""
    rect = panel.list.visualRect(panel.model.index(0))
    metrics = panel.list.fontMetrics()
    assert metrics.horizontalAdvance("01_astronaut_xxx.jpg") <= rect.width() - 8  # less the text margins
    assert rect.height() >= THUMBNAIL_SIZE.height() + 3 * metrics.lineSpacing()


def test_view_media_follows_the_media_dock(qtbot: QtBot, editor: MainWindow) -> None:
    toggle = _menu_action(editor, "M&edia")
    assert toggle.isCheckable() and toggle.shortcut() == QKeySequence("Ctrl+Shift+E")
    assert not toggle.isChecked()  # its tab is behind the inspector's

    editor.timeline.setFocus()
    qtbot.keyClick(editor.timeline, Qt.Key.Key_E, CONTROL_SHIFT)
    qtbot.waitUntil(toggle.isChecked)
    assert editor.media_bin.active

    editor.inspector_dock.raise_()  # another tab in front: the bin is off screen
    qtbot.waitUntil(lambda: not toggle.isChecked())
    editor.media_dock.raise_()
    qtbot.waitUntil(toggle.isChecked)

    toggle.trigger()  # checked: hides the dock
    assert not editor.media_dock.isVisible() and not toggle.isChecked()
    qtbot.keyClick(editor.timeline, Qt.Key.Key_E, CONTROL_SHIFT)
    qtbot.waitUntil(toggle.isChecked)
    assert editor.media_dock.isVisible() and editor.media_bin.active


# -- what the bin shows ----------------------------------------------------------------------------------


def test_the_bin_lists_media_acts_and_clips_use_even_if_never_imported(
    qtbot: QtBot, tmp_path: Path, panel: MediaBinPanel, document: DocumentController
) -> None:
    _sound(tmp_path / "music.wav")
    document.execute(AddAudioClip(AudioClip(media=MediaRef(path="music.wav"))))
    document.execute(SetActField("a1", "references", [MediaRef(path="gone.png")]))

    assert [item.name for item in panel.model.items] == ["used.png", "gone.png", "music.wav"]
    used = _row(panel, "used.png")
    assert panel.model.state(used) == "● in use"
    assert "Used by: Act 0" in panel.model.tooltip(used)
    gone = _row(panel, "gone.png")
    assert panel.model.is_missing(gone) and panel.model.state(gone) == "missing · ● in use"
    assert "Missing" in panel.model.tooltip(gone)
    qtbot.waitUntil(lambda: panel.model.state(_row(panel, "music.wav")) == "0:02 · ● in use")
    assert "Used by: audio track 1" in panel.model.tooltip(_row(panel, "music.wav"))


def test_thumbnails_arrive_from_a_thread_without_blocking(
    qtbot: QtBot, tmp_path: Path, panel: MediaBinPanel, document: DocumentController
) -> None:
    panel.import_files([_picture(tmp_path / "fresh.png", "orange")])
    row = _row(panel, "fresh.png")
    # Read on a pool thread and delivered by the event loop: right after listing, a placeholder shows.
    assert not panel.model.has_thumbnail(row)
    qtbot.waitUntil(lambda: panel.model.has_thumbnail(row))
    icon = panel.model.data(panel.model.index(row), Qt.ItemDataRole.DecorationRole)
    image = icon.pixmap(THUMBNAIL_SIZE).toImage()
    centre = image.pixelColor(image.width() // 2, image.height() // 2)
    assert (centre.red(), centre.green() // 10, centre.blue()) == (255, 16, 0)  # orange
    assert image.width() <= THUMBNAIL_SIZE.width() and image.height() <= THUMBNAIL_SIZE.height()


def test_a_picture_that_became_unusable_is_marked_in_the_bin(
    qtbot: QtBot, tmp_path: Path, panel: MediaBinPanel
) -> None:
    (tmp_path / "used.png").write_text("overwritten by notes")
    panel.refresh()
    row = _row(panel, "used.png")
    qtbot.waitUntil(lambda: panel.model.preview(row) is not None)
    assert panel.model.state(row) == "unusable · ● in use"
    assert "Cannot be used: not an image: text data" in panel.model.tooltip(row)


# -- Delete in the bin -----------------------------------------------------------------------------------


@pytest.fixture
def editor(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    _picture(tmp_path / "used.png", "navy")
    path = tmp_path / "film.storybeat"
    save_project(_project(), path)
    window = MainWindow(
        DocumentController(),
        DraftService(StageCache(tmp_path / "cache")),
        QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
        RecoveryStore(tmp_path / "recovery"),
        Preferences.defaults(),
        restore_layout=False,
    )
    assert window.files.open(path)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    yield window
    window.shutdown()
    window.document.history.mark_saved()
    window.close()
    window.deleteLater()


def test_a_bin_behind_another_tab_lists_and_reads_nothing_until_it_is_shown(
    qtbot: QtBot, editor: MainWindow
) -> None:
    panel = editor.media_bin
    assert not panel.active and panel.model.items == []  # the inspector's tab is in front
    editor.media_dock.raise_()
    qtbot.waitUntil(lambda: panel.active)
    assert [item.name for item in panel.model.items] == ["used.png"]
    qtbot.waitUntil(lambda: panel.model.has_thumbnail(0))


def test_delete_in_the_bin_removes_the_bin_entry_and_not_the_selected_act(
    qtbot: QtBot, tmp_path: Path, editor: MainWindow
) -> None:
    document, panel = editor.document, editor.media_bin
    panel.import_files([_picture(tmp_path / "extra.png")])
    document.set_selection(["a1"])
    editor.media_dock.raise_()
    qtbot.waitUntil(lambda: panel.active)

    _click_item(qtbot, panel, "extra.png")
    assert panel.list.hasFocus()
    qtbot.keyClick(panel.list, Qt.Key.Key_Delete)

    assert document.project.media_bin == []
    assert [act.id for act in document.project.acts] == ["a0", "a1"]  # no ripple delete
    assert document.history.undo_label == "Remove 1 file from bin"

    # The window's Delete is live: with the focus elsewhere the same key ripple-deletes the selected act.
    editor.viewer.setFocus()
    qtbot.keyClick(editor.viewer, Qt.Key.Key_Delete)
    assert [act.id for act in document.project.acts] == ["a0"]


def test_delete_on_media_an_act_uses_keeps_it_and_says_why(
    qtbot: QtBot, panel: MediaBinPanel, document: DocumentController
) -> None:
    messages = _messages(document)
    _click_item(qtbot, panel, "used.png")
    qtbot.keyClick(panel.list, Qt.Key.Key_Delete)
    assert [item.name for item in panel.model.items] == ["used.png"] and not document.history.can_undo
    assert messages == ["used.png stays in the bin while Act 0 use it"]
    assert not panel.remove_action.isEnabled()  # nothing of the selection can be taken out


# -- Add to Timeline -------------------------------------------------------------------------------------


def test_add_to_timeline_inserts_pictures_after_the_selected_act_as_one_undo_step(
    qtbot: QtBot, tmp_path: Path, panel: MediaBinPanel, document: DocumentController
) -> None:
    panel.import_files([_picture(tmp_path / "one.png"), _picture(tmp_path / "two.png", "teal")])
    before = dumps_project(document.project)
    document.set_selection(["a0"])
    _click_item(qtbot, panel, "one.png")
    _click_item(qtbot, panel, "two.png", Qt.KeyboardModifier.ControlModifier)
    qtbot.mouseClick(_button(panel, "&Add to Timeline"), LEFT)

    acts = document.project.acts
    assert [act.name for act in acts] == ["Act 0", "one", "two", "Act 1"]
    assert [act.references[0].path for act in acts[1:3]] == ["one.png", "two.png"]
    assert [act.duration_frames for act in acts[1:3]] == [new_act_frames(document.project)] * 2 == [96, 96]
    assert document.selected_ids == [acts[1].id, acts[2].id]
    assert document.history.undo_label == "Add 2 acts"
    document.project.check_consistency()
    document.undo()
    assert dumps_project(document.project) == before
    document.redo()
    assert len(document.project.acts) == 4


def test_add_to_timeline_puts_sounds_on_the_first_audio_track_at_the_playhead(
    qtbot: QtBot, tmp_path: Path, panel: MediaBinPanel, document: DocumentController
) -> None:
    panel.import_files(
        [_sound(tmp_path / "a.wav", 1.0), _sound(tmp_path / "b.wav"), _picture(tmp_path / "p.png")]
    )
    document.set_playhead(30)
    _click_item(qtbot, panel, "a.wav")
    for name in ("b.wav", "p.png"):
        _click_item(qtbot, panel, name, Qt.KeyboardModifier.ControlModifier)
    panel.add_action.trigger()

    clips = document.project.audio
    assert [(clip.media.path, clip.track, clip.offset_frames) for clip in clips] == [
        ("a.wav", 0, 30),
        ("b.wav", 0, 54),
    ]
    assert document.project.acts[-1].name == "p"
    assert document.history.undo_label == "Add to timeline"
    document.undo()
    assert document.project.audio == [] and len(document.project.acts) == 2


def test_add_to_timeline_refuses_a_sound_that_cannot_be_opened(
    qtbot: QtBot, tmp_path: Path, panel: MediaBinPanel, document: DocumentController
) -> None:
    song = _sound(tmp_path / "song.mp3")  # a WAV named .mp3 opens fine: the container says what it is
    panel.import_files([song])
    song.write_text("the download failed")
    messages = _messages(document)
    _click_item(qtbot, panel, "song.mp3")
    panel.add_action.trigger()
    assert document.project.audio == []
    assert messages == [f"{song}: not an audio file (it could not be opened as audio)"]


def _menu_action(window: MainWindow, text: str) -> QAction:
    return next(action for action in window.findChildren(QAction) if action.text() == text)


def test_add_acts_from_files_in_the_edit_menu_inserts_after_the_selection(
    qtbot: QtBot, tmp_path: Path, editor: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = [_picture(tmp_path / "x.png"), _sound(tmp_path / "y.wav")]
    asked: list[str] = []

    def choose(parent: object, caption: str, folder: Path, filters: str = MEDIA_FILTERS) -> list[Path]:
        asked.append(filters)
        return chosen

    monkeypatch.setattr(media_bin_module, "choose_files", choose)
    editor.document.set_selection(["a0"])
    action = _menu_action(editor, "Add Acts from &Files…")
    action.trigger()
    assert [act.name for act in editor.document.project.acts] == ["Act 0", "x", "Act 1"]
    assert asked and asked[0].startswith("Images (")
    assert editor.statusBar().currentMessage() == "1 of 2 files was not added: y.wav: not a picture"


def test_file_import_media_uses_ctrl_i_and_offers_media_images_and_audio(
    tmp_path: Path, editor: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def choose(parent: object, caption: str, folder: Path, filters: str = MEDIA_FILTERS) -> list[Path]:
        asked.append(filters)
        return [_picture(tmp_path / "z.png")]

    monkeypatch.setattr(media_bin_module, "choose_files", choose)
    action = _menu_action(editor, "&Import Media…")
    assert action.shortcut() == QKeySequence("Ctrl+I")
    action.trigger()
    assert [ref.path for ref in editor.document.project.media_bin] == ["z.png"]
    assert editor.media_bin.active  # the Media tab came forward
    assert [part.split(" (")[0] for part in asked[0].split(";;")] == ["Media", "Images", "Audio"]
    assert asked[0].startswith("Media (images and audio) (")


# -- dragging onto the timeline --------------------------------------------------------------------------


def _drop(view: TimelineView, mime: QMimeData, frame: float, y: int) -> tuple[bool, bool]:
    """Drag `mime` over the timeline at (`frame`, `y`) and drop it there, as Qt does: (move accepted, drop
    accepted)."""
    position = QPoint(round(view.timeline_geometry.x_of(frame)), y)
    copy = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(position, copy, mime, LEFT, NO_MODIFIER)
    QApplication.sendEvent(view, enter)
    move = QDragMoveEvent(position, copy, mime, LEFT, NO_MODIFIER)
    QApplication.sendEvent(view, move)
    drop = QDropEvent(QPointF(position), copy, mime, LEFT, NO_MODIFIER)
    if enter.isAccepted() and move.isAccepted():
        QApplication.sendEvent(view, drop)
    return move.isAccepted(), drop.isAccepted()


def _bin_mime(panel: MediaBinPanel, *names: str) -> QMimeData:
    indexes: list[QModelIndex] = [panel.model.index(_row(panel, name)) for name in names]
    return panel.model.mimeData(indexes)


@_OLD_DRAG_EVENTS
def test_a_picture_dragged_from_the_bin_onto_the_acts_track_becomes_an_act_there(
    tmp_path: Path, panel: MediaBinPanel, timeline: TimelineView, document: DocumentController
) -> None:
    panel.import_files([_picture(tmp_path / "bridge.png")])
    assert panel.list.dragEnabled() and "text/uri-list" in panel.model.mimeTypes()
    row = timeline.timeline_geometry.row(RowKind.acts)

    moved, dropped = _drop(timeline, _bin_mime(panel, "bridge.png"), 60, row.top + row.height // 2)

    assert moved and dropped
    assert [act.name for act in document.project.acts] == ["Act 0", "bridge", "Act 1"]
    assert document.project.acts[1].references[0].path == "bridge.png"


@_OLD_DRAG_EVENTS
def test_a_sound_dragged_from_the_bin_onto_an_audio_track_becomes_a_clip_at_the_drop_frame(
    tmp_path: Path, panel: MediaBinPanel, timeline: TimelineView, document: DocumentController
) -> None:
    panel.import_files([_sound(tmp_path / "voice.wav")])
    mime = _bin_mime(panel, "voice.wav")
    acts_row = timeline.timeline_geometry.row(RowKind.acts)
    assert _drop(timeline, mime, 60, acts_row.top + 5) == (False, False)  # a sound is no act
    assert document.project.audio == [] and len(document.project.acts) == 2

    audio_row = timeline.timeline_geometry.row(RowKind.audio)
    moved, dropped = _drop(timeline, mime, 36, audio_row.top + audio_row.height // 2)

    assert moved and dropped
    (clip,) = document.project.audio
    assert (clip.media.path, clip.track, clip.offset_frames) == ("voice.wav", 0, 36)
    assert clip.media.sha256
    assert document.history.undo_label == "Add audio"
    assert "Used by: audio track 1" in panel.model.tooltip(_row(panel, "voice.wav"))

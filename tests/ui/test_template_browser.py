"""The template browser in the editor: cards, search and tags, apply (button, drop on the timeline), the
preview, update offers, and managing the user library (save, duplicate, edit, rename, delete, bundles)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QInputDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.engine.cache import StageCache
from app.engine.templates import TemplateLibrary
from app.engine.worker import ActState, DraftService
from app.model import Act, BeatGrid, GradeSettings, MediaRef, MotionSettings, Project, ProjectSettings
from app.model.act import TemplateLink
from app.model.commands import SetActField
from app.model.project_file import save_project
from app.model.recovery import RecoveryStore
from app.model.template import Template, TemplatePacing
from app.ui.document import DocumentController
from app.ui.main_window import MainWindow
from app.ui.preferences import Preferences
from app.ui.template_browser import TemplateBrowser
from app.ui.template_dialogs import TemplateDetails, TemplateDetailsDialog
from app.ui.timeline.geometry import RowKind

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
WAIT_MS = 20_000
LENGTH = 12  # frames per act


def _write_template(root: Path, template: Template, colour: tuple[int, int, int] | None = None) -> None:
    """A template folder; `colour`: a flat 32×18 thumbnail of that RGB colour."""
    folder = root / template.id
    folder.mkdir(parents=True)
    if template.lut is not None:
        size = 2
        lines = [f"LUT_3D_SIZE {size}"]
        for b in range(size):
            for g in range(size):
                for r in range(size):
                    lines.append(f"{r:.1f} {g * 0.5:.2f} {b:.1f}")  # halves green: a magenta cast
        (folder / template.lut).write_text("\n".join(lines) + "\n")
    if colour is not None:
        picture = np.full((18, 32, 3), colour[::-1], np.uint8)
        assert cv2.imwrite(str(folder / "thumbnail.png"), picture)
    (folder / "template.json").write_text(template.model_dump_json(indent=2))


@pytest.fixture
def library(tmp_path: Path) -> TemplateLibrary:
    builtin, user = tmp_path / "builtin", tmp_path / "user"
    noir = Template(
        id="noir",
        name="Noir",
        tags=("black and white", "moody"),
        grade=GradeSettings(saturation=0.0, contrast=1.5),
    )
    _write_template(builtin, noir, colour=(20, 20, 20))
    pastel = Template(
        id="pastel",
        name="Pastel",
        tags=("dreamy", "soft"),
        description="lifted, warm and soft",
        grade=GradeSettings(temperature=0.6, contrast=0.7),
        pacing=TemplatePacing(preset="every-2-beats"),
    )
    _write_template(user, pastel, colour=(240, 200, 210))
    vhs = Template(id="vhs", name="Retro VHS", tags=("retro", "moody"), lut="cast.cube", thumbnail=None)
    _write_template(user, vhs)
    return TemplateLibrary(builtin_dir=builtin, user_dir=user)


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    image = cv2.imread(str(DEMO / "02_chelsea.jpg"))
    assert image is not None
    cv2.imwrite(str(folder / "cat.jpg"), cv2.resize(image, (96, 64)))
    acts = [
        Act(id=act_id, name=f"Act {act_id}", duration_frames=LENGTH, references=[MediaRef(path="cat.jpg")])
        for act_id in ("a", "b", "c")
    ]
    beats = BeatGrid(tempo=120.0, beats=tuple(i / 6 for i in range(18)))  # every 2 frames at 12 fps
    project = Project(settings=ProjectSettings(fps=Fraction(12), width=96, height=64), acts=acts, beats=beats)
    path = folder / "film.storybeat"
    save_project(project, path)
    return path


@pytest.fixture
def window(
    qtbot: QtBot, tmp_path: Path, project_path: Path, library: TemplateLibrary
) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    drafts = DraftService(StageCache(tmp_path / "cache"))
    made = MainWindow(
        DocumentController(),
        drafts,
        settings,
        RecoveryStore(tmp_path / "recovery"),
        Preferences.defaults(),
        library=library,
    )
    assert made.files.open(project_path)
    made.show()
    qtbot.waitExposed(made)
    made.templates_dock.raise_()
    qtbot.waitUntil(lambda: made.templates.active, timeout=WAIT_MS)
    yield made
    made.shutdown()
    made.document.history.mark_saved()  # closing must not stop at "save changes?"
    made.close()
    made.deleteLater()


@pytest.fixture
def messages(window: MainWindow) -> list[str]:
    said: list[str] = []
    window.document.message.connect(said.append)
    return said


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    return shown


def _browser(window: MainWindow) -> TemplateBrowser:
    return window.templates


def _card_text(browser: TemplateBrowser, template_id: str) -> str:
    row = browser.shown_ids().index(template_id)
    return browser.cards.item(row).text()


def _answer_dialog(monkeypatch: pytest.MonkeyPatch, **texts: str) -> None:
    """Make TemplateDetailsDialog.exec fill in `texts` (field name -> text) and press OK."""

    def exec_(dialog: TemplateDetailsDialog) -> int:
        for field, text in texts.items():
            widget = getattr(dialog, field)
            (widget.setText if field in ("name", "tags") else widget.setPlainText)(text)
        return QDialog.DialogCode.Accepted.value

    monkeypatch.setattr(TemplateDetailsDialog, "exec", exec_)


# -- the cards ---------------------------------------------------------------------------------------------


def test_cards_show_the_library_and_broken_folders_as_a_warning(
    window: MainWindow, library: TemplateLibrary
) -> None:
    browser = _browser(window)
    assert browser.shown_ids() == ["noir", "pastel", "vhs"]  # by name: Noir, Pastel, Retro VHS
    assert _card_text(browser, "noir").splitlines() == ["Noir", "v1 · built-in", "black and white, moody"]
    assert _card_text(browser, "pastel").splitlines()[1] == "v1"
    assert not browser.cards.item(0).icon().isNull()
    assert browser.problems.isHidden()

    broken = library.user_dir / "broken"
    broken.mkdir()
    (broken / "template.json").write_text("{not json")
    browser.reload()
    assert browser.shown_ids() == ["noir", "pastel", "vhs"]
    assert not browser.problems.isHidden() and "broken" in browser.problems.text()


def test_the_default_library_loads(qtbot: QtBot, tmp_path: Path) -> None:
    drafts = DraftService(StageCache(tmp_path / "cache"))
    try:
        browser = TemplateBrowser(DocumentController(), drafts, TemplateLibrary())
        qtbot.addWidget(browser)
        assert browser.shown_ids() == [entry.template.id for entry in browser.library.all()]
    finally:
        drafts.shutdown()


def test_search_and_tags_filter_the_cards(qtbot: QtBot, window: MainWindow) -> None:
    browser = _browser(window)
    browser.search.setText("WARM")  # the description, any case
    qtbot.waitUntil(lambda: browser.shown_ids() == ["pastel"], timeout=WAIT_MS)
    browser.search.setText("")
    qtbot.waitUntil(lambda: len(browser.shown_ids()) == 3, timeout=WAIT_MS)
    tags = {browser.tags.item(row).text(): browser.tags.item(row) for row in range(browser.tags.count())}
    assert sorted(tags) == ["black and white", "dreamy", "moody", "retro", "soft"]
    tags["moody"].setCheckState(Qt.CheckState.Checked)
    assert browser.shown_ids() == ["noir", "vhs"]
    tags["retro"].setCheckState(Qt.CheckState.Checked)  # every checked tag is required
    assert browser.shown_ids() == ["vhs"]
    browser.search.setText("noir")
    qtbot.waitUntil(lambda: browser.shown_ids() == [], timeout=WAIT_MS)


# -- applying ----------------------------------------------------------------------------------------------


def test_applying_to_two_selected_acts_is_one_undo_step_and_embeds_the_template(
    qtbot: QtBot, window: MainWindow, project_path: Path
) -> None:
    browser, document = _browser(window), window.document
    document.set_selection(["a", "c"])
    browser.select_template("vhs")
    assert browser.apply_button.isEnabled()
    qtbot.mouseClick(browser.apply_button, Qt.MouseButton.LeftButton)

    project = document.project
    copied = project_path.parent / "template-assets" / "vhs-v1" / "cast.cube"
    assert copied.is_file()
    assert [embedded.key for embedded in project.templates] == [("vhs", 1)]
    for act_id in ("a", "c"):
        act = project.act(act_id)
        assert act.template is not None and (act.template.id, act.template.version) == ("vhs", 1)
        assert act.grade.lut is not None and act.grade.lut.resolve(project_path.parent) == copied
    assert project.act("b").template is None
    assert document.history.undo_label == "Apply template 'Retro VHS'"

    document.undo()
    assert all(act.template is None and act.grade.lut is None for act in document.project.acts)
    assert document.project.templates == [] and not document.history.can_undo


def test_a_reference_frame_damaged_since_the_library_was_read_is_refused_when_applying(
    window: MainWindow, library: TemplateLibrary, messages: list[str], project_path: Path
) -> None:
    stills = Template(id="stills", name="Stills", references=("frame.png",))
    _write_template(library.user_dir, stills, colour=(90, 120, 160))
    frame = library.user_dir / "stills" / "frame.png"
    assert cv2.imwrite(str(frame), np.full((18, 32, 3), 128, np.uint8))
    browser, document = _browser(window), window.document
    browser.reload()
    frame.write_text("<!DOCTYPE html><html><body>Not found</body></html>")  # replaced by a download error

    assert not browser.apply_template("stills", ["a"])

    assert messages[-1] == "template 'stills': frame.png: not an image: an HTML page"
    assert document.project.act("a").template is None and not document.history.can_undo
    assert not (project_path.parent / "template-assets").exists()  # nothing copied


def test_recutting_to_the_templates_pacing_is_grouped_with_the_apply(window: MainWindow) -> None:
    browser, document = _browser(window), window.document
    document.set_selection(["b"])
    browser.select_template("noir")
    assert not browser.recut.isEnabled()  # noir has no pacing preset
    browser.select_template("pastel")
    assert browser.recut.isEnabled() and not browser.recut.isChecked()
    browser.recut.setChecked(True)
    messages: list[str] = []
    document.message.connect(messages.append)
    assert browser.apply_to_selection()

    # Three acts over the song's two-beat slots: spread evenly, so the acts keep their length
    # (before the fix the last act took whatever the first cuts left), and the status bar says so.
    assert [act.duration_frames for act in document.project.acts] == [12, 12, 12]
    assert messages[-1].startswith("Applied template 'Pastel' to 1 act")
    assert "Cut every 2 beats" in messages[-1]
    assert document.history.undo_label == "Apply template 'Pastel' with its pacing"
    assert document.project.act("b").grade.temperature == 0.6
    document.undo()
    assert [act.duration_frames for act in document.project.acts] == [LENGTH] * 3
    assert document.project.act("b").template is None


def test_dropping_a_card_on_an_act_applies_the_template_to_it_or_to_its_selection(
    window: MainWindow,
) -> None:
    browser, document, timeline = _browser(window), window.document, window.timeline
    browser.select_template("noir")
    mime = browser.cards.mimeData([browser.cards.currentItem()])
    geometry = timeline.timeline_geometry
    row = geometry.row(RowKind.acts)

    def drop_on(act_index: int) -> QDropEvent:
        x = geometry.x_of(act_index * LENGTH + LENGTH / 2)
        at = QPointF(x, row.top + row.height / 2)
        enter = QDragEnterEvent(
            at.toPoint(),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        timeline.dragEnterEvent(enter)
        assert enter.isAccepted()
        event = QDropEvent(
            at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        )
        timeline.dropEvent(event)
        return event

    document.set_selection(["a"])
    assert drop_on(1).isAccepted()  # b is not selected: the template goes to b alone
    linked = {act.id for act in document.project.acts if act.template is not None}
    assert linked == {"b"} and document.project.act("b").grade.saturation == 0.0

    document.set_selection(["a", "c"])
    drop_on(2)  # c is selected: the whole selection gets it, in one step
    assert {act.id for act in document.project.acts if act.template is not None} == {"a", "b", "c"}
    document.undo()
    assert {act.id for act in document.project.acts if act.template is not None} == {"b"}


# -- the preview -------------------------------------------------------------------------------------------


def test_choosing_a_card_previews_the_selected_act_with_the_template(
    qtbot: QtBot, window: MainWindow
) -> None:
    browser, document, drafts = _browser(window), window.document, window.drafts
    document.set_selection(["a", "b"])
    browser.select_template("noir")
    assert browser.preview.text() == "Select one act to preview the template on it"
    document.set_selection(["a"])
    assert browser.preview.text() == "Rendering preview…"
    qtbot.waitUntil(lambda: browser.preview.shown_index is not None, timeout=WAIT_MS)

    clip = drafts.variant_clip()
    assert clip is not None and clip.length == LENGTH
    qtbot.waitUntil(lambda: drafts.status("a").state is ActState.ready, timeout=WAIT_MS)
    own, previewed = drafts.frame(5), clip.frame(5)
    assert own is not None
    assert np.abs(own.astype(int) - previewed.astype(int)).mean() > 10
    spread = previewed.astype(int).max(axis=2) - previewed.astype(int).min(axis=2)
    assert spread.mean() < 4  # noir: no colour
    assert document.project.act("a").template is None  # a preview is not an edit

    browser.select_template("pastel")  # another template: the noir preview is dropped at once
    assert browser.preview.shown_index is None and browser.preview.text() == "Rendering preview…"


# -- updates -----------------------------------------------------------------------------------------------


def test_an_update_bar_offers_the_newer_version_and_update_keeps_overrides(
    window: MainWindow, library: TemplateLibrary, messages: list[str]
) -> None:
    browser, document = _browser(window), window.document
    assert browser.apply_template("pastel", ["a", "b"])
    assert browser.updates.bars == {}
    drift = MotionSettings(intensity=0.9)
    assert document.execute(SetActField("a", "motion", drift))  # the user's own change on act a

    library.edit("pastel", grade=GradeSettings(temperature=-0.4, contrast=0.7))
    browser.reload()
    bar = browser.updates.bars["pastel"]
    assert bar.label.text() == "2 acts use 'Pastel' v1 — v2 is available"

    bar.button.click()
    for act_id in ("a", "b"):
        act = document.project.act(act_id)
        assert act.template is not None and act.template.version == 2
        assert act.grade.temperature == -0.4
    assert document.project.act("a").motion == drift  # kept
    assert messages[-1] == "Updated 2 acts to 'Pastel' v2; kept 1 field you changed"
    assert browser.updates.bars == {}

    document.undo()  # one step back: both acts on v1, and the offer is back
    assert [act.template for act in document.project.acts[:2]] == [TemplateLink(id="pastel", version=1)] * 2
    assert "pastel" in browser.updates.bars


# -- managing the library ----------------------------------------------------------------------------------


def test_save_selection_as_template_creates_a_user_template_with_a_draft_thumbnail(
    window: MainWindow, library: TemplateLibrary, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, document = _browser(window), window.document
    assert document.execute(SetActField("a", "style_prompt", "golden hour, 35mm"))
    document.set_selection(["a", "b"])
    assert window.drafts.wait_idle(WAIT_MS / 1000)  # the draft of the edited act is ready
    _answer_dialog(monkeypatch, name="My Look", tags="Mine, warm", description="for the cat")
    saved = browser.manage.save_selection()

    assert saved is not None and not saved.builtin
    entry = library.get("my-look")
    assert entry.template.name == "My Look" and entry.template.tags == ("mine", "warm")
    assert entry.template.style_prompt == "golden hour, 35mm"
    assert entry.thumbnail_path is not None and entry.folder.parent == library.user_dir
    thumbnail = cv2.imread(str(entry.thumbnail_path))
    assert thumbnail is not None and thumbnail.shape[:2] == (64, 96)  # the draft frame, project size
    assert browser.current_entry() == entry


def test_duplicate_rename_and_edit_make_user_templates_and_versions(
    window: MainWindow, library: TemplateLibrary, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = _browser(window)
    browser.select_template("noir")
    assert not browser.manage.rename_action.isEnabled()  # built in
    copy = browser.manage.duplicate()
    assert copy is not None and copy.template.name == "Noir copy" and not copy.builtin
    assert browser.current_entry() == copy and browser.manage.rename_action.isEnabled()

    monkeypatch.setattr(QInputDialog, "getText", lambda *args: ("Film Noir", True))
    renamed = browser.manage.rename()
    assert renamed is not None and (renamed.template.name, renamed.template.version) == ("Film Noir", 2)
    _answer_dialog(monkeypatch, style_prompt="high contrast, deep shadows")
    edited = browser.manage.edit()
    assert edited is not None and edited.template.version == 3
    assert edited.template.style_prompt == "high contrast, deep shadows"
    assert edited.template.grade.saturation == 0.0  # the look itself is carried over
    assert library.get("noir").builtin and library.get("noir").template.version == 1


def test_delete_asks_first_and_refuses_built_ins(
    window: MainWindow, library: TemplateLibrary, monkeypatch: pytest.MonkeyPatch, warnings: list[str]
) -> None:
    browser = _browser(window)
    browser.select_template("noir")
    assert not browser.manage.delete_action.isEnabled()
    assert not browser.manage.delete()
    assert warnings and "built in" in warnings[0]
    assert "noir" in browser.shown_ids()

    browser.select_template("pastel")
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.No)
    assert not browser.manage.delete()
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Yes)
    assert browser.manage.delete()
    assert browser.shown_ids() == ["noir", "vhs"] and not (library.user_dir / "pastel").exists()


def test_a_bad_bundle_is_refused_with_its_reason_and_changes_nothing(
    window: MainWindow,
    library: TemplateLibrary,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    warnings: list[str],
) -> None:
    browser = _browser(window)
    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("evil/template.json", Template(id="evil", name="Evil").model_dump_json())
        archive.writestr("evil/../../escape.json", "{}")
    # The user library, and beside it where import stages its folders (the draft cache there keeps changing).
    user_files = sorted(library.user_dir.rglob("*"))
    beside = sorted(library.user_dir.parent.iterdir())
    monkeypatch.setattr("app.ui.template_dialogs.open_file_name", lambda *args: (str(bad), ""))
    assert browser.manage.import_bundle() is None
    assert len(warnings) == 1 and "'..'" in warnings[0] and str(bad) in warnings[0]
    assert sorted(library.user_dir.rglob("*")) == user_files
    assert sorted(library.user_dir.parent.iterdir()) == beside
    assert not list(tmp_path.rglob("escape.json"))
    assert browser.shown_ids() == ["noir", "pastel", "vhs"]


def test_export_then_import_a_bundle_replaces_after_asking(
    window: MainWindow, library: TemplateLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = _browser(window)
    browser.select_template("noir")
    target = tmp_path / "noir-look"
    monkeypatch.setattr("app.ui.template_dialogs.save_file_name", lambda *args: (str(target), ""))
    assert browser.manage.export_bundle() == tmp_path / "noir-look.zip"

    asked: list[str] = []

    def answer(parent: object, title: str, text: str) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    monkeypatch.setattr(
        "app.ui.template_dialogs.open_file_name",
        lambda *args: (str(tmp_path / "noir-look.zip"), ""),
    )
    imported = browser.manage.import_bundle()
    assert len(asked) == 1 and "installed already" in asked[0]
    assert imported is not None and not imported.builtin  # a user copy now shadows the built-in
    assert browser.current_entry() == imported and "built-in" not in _card_text(browser, "noir")


def test_the_details_dialog_needs_a_name_and_reads_tags(qtbot: QtBot) -> None:
    dialog = TemplateDetailsDialog("Save as template", TemplateDetails("Cat"), prompts=False)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled()
    dialog.name.setText("  ")
    assert not ok.isEnabled()
    dialog.name.setText(" Dusk ")
    dialog.tags.setText("Warm,  evening , warm,,")
    details = dialog.details()
    assert (details.name, details.tags) == ("Dusk", ("warm", "evening"))


def test_an_untitled_project_applies_file_free_templates_and_asks_to_save_for_the_rest(
    window: MainWindow, messages: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    document = window.document
    document.replace(document.project.model_copy(deep=True), None)  # as File ▸ New would leave it
    browser = _browser(window)
    assert not browser.apply_template("vhs", ["a"])  # has a LUT file to copy
    assert any("Save the project first" in message for message in messages)
    assert not (tmp_path / "template-assets").exists()
    assert browser.apply_template("noir", ["a"])  # only settings: nothing to copy
    assert document.project.act("a").template is not None

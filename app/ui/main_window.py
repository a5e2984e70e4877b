"""The main window: viewer on top, timeline below, inspector / takes / templates / quality checks / render
queue docked; menus; review mode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QSplitter, QVBoxLayout, QWidget

from app.engine.templates import TemplateLibrary
from app.engine.worker import DraftService
from app.model import ExportOptions
from app.model.commands import Changes, SnapCutsToBeats
from app.model.range_commands import SetExportOptions
from app.model.recovery import RecoveryStore
from app.ui.clipboard import ActClipboard, PasteAttributesDialog
from app.ui.document import DocumentController
from app.ui.export_dialog import ExportDialog
from app.ui.files import QUITTING, FileController, existing_directory
from app.ui.in_out import InOutController
from app.ui.inspector import InspectorPanel
from app.ui.media_bin import MediaBinPanel
from app.ui.models_service import ModelsService, registry_for
from app.ui.music import MusicController
from app.ui.playback import PlaybackController, TransportBar
from app.ui.preferences import Preferences, PreferencesDialog
from app.ui.qc_panel import QCPanel
from app.ui.render_queue import ExportJob, RenderQueuePanel
from app.ui.review import ReviewMode
from app.ui.takes import TakesPanel
from app.ui.template_browser import TemplateBrowser
from app.ui.timeline import TimelineView
from app.ui.viewer import PreviewViewer

if TYPE_CHECKING:
    from app.ui.models_window import ModelsWindow
    from app.ui.welcome import WelcomeDialog

#: The smallest window at which every control keeps the room it asks for (the layout may ask for more).
MIN_WINDOW_SIZE = QSize(1024, 640)
#: Docks are never narrower than this (pixels): the inspector's fields and the five dock tabs fit.
DOCK_MIN_WIDTH = 400
#: The docks' width on a first start (pixels).
DOCK_WIDTH = 410
#: QSettings keys of the window layout: geometry, docks (QMainWindow.saveState), the dock tab on screen.
_GEOMETRY_KEY = "window/geometry"
_STATE_KEY = "window/state"
_DOCK_TAB_KEY = "window/dock_tab"
#: Bump when the docks change, so that an older saved dock layout is ignored rather than half applied.
_STATE_VERSION = 2

#: Snap tolerance of the "Snap Cuts to Beats" command, in frames.
SNAP_ALL_TOLERANCE_FRAMES = 6


class MainWindow(QMainWindow):
    def __init__(
        self,
        document: DocumentController,
        drafts: DraftService,
        settings: QSettings,
        recovery: RecoveryStore,
        preferences: Preferences,
        library: TemplateLibrary | None = None,
        models: ModelsService | None = None,
        *,
        restore_layout: bool = True,
    ) -> None:
        """`library`: the template library to browse (default: the built-ins and the user's own);
        `models`: the model registry and downloads (default: the user's registry); `restore_layout`: take
        the window's size, docks and dock tab from `settings` (as the last window closed left them)."""
        super().__init__()
        self.document = document
        self.drafts = drafts
        self.settings = settings
        self.preferences = preferences
        self.files = FileController(document, settings, recovery, self)
        self.resize(1440, 900)
        self.models = models or ModelsService(registry_for(preferences.models_dir), parent=self)
        self._models_window: ModelsWindow | None = None

        self.viewer = PreviewViewer(document, drafts)
        self.playback = PlaybackController(document, drafts)
        self.playback.output_device = preferences.audio_device or None
        self.transport = TransportBar(self.playback, document)
        self.timeline = TimelineView(document, drafts)
        self.inspector = InspectorPanel(document, drafts, registry=self.models.registry)
        self.models.changed.connect(self.inspector.refresh_model_lists)
        self.takes = TakesPanel(document, drafts)
        self.templates = TemplateBrowser(document, drafts, library or TemplateLibrary())
        self.timeline.template_dropped.connect(self.templates.apply_template)
        self.render_queue = RenderQueuePanel()
        self.qc = QCPanel(document, drafts)
        self.qc.findings_changed.connect(self._on_qc_findings_changed)
        self.review = ReviewMode(document, self.playback, self)
        self.music = MusicController(document, drafts.cache, self)
        self.clipboard = ActClipboard(document, self)
        self.media_bin = MediaBinPanel(document)
        self.in_out = InOutController(document, self)
        self.export_dialog: ExportDialog | None = None  # the last one opened (File ▸ Export…)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(0)
        top_layout.addWidget(self.viewer, 1)
        top_layout.addWidget(self.review.strip)
        top_layout.addWidget(self.transport)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.timeline)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.setCentralWidget(splitter)
        self.inspector_dock = inspector_dock = self._dock(
            "Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.takes_dock = self._dock("Takes", self.takes, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(inspector_dock, self.takes_dock)
        self.templates_dock = self._dock("Templates", self.templates, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(inspector_dock, self.templates_dock)
        self.qc_dock = self._dock("Quality checks", self.qc, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(inspector_dock, self.qc_dock)
        self.media_dock = self._dock("Media", self.media_bin, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(inspector_dock, self.media_dock)
        self.media_dock.visibilityChanged.connect(self.media_bin.set_active)
        inspector_dock.raise_()
        queue_dock = self._dock("Render queue", self.render_queue, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([inspector_dock, queue_dock], [720, 140], Qt.Orientation.Vertical)
        self.resizeDocks([inspector_dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)
        self._tab_docks = (
            inspector_dock,
            self.takes_dock,
            self.templates_dock,
            self.qc_dock,
            self.media_dock,
        )

        self._build_menus()
        self.setMinimumSize(MIN_WINDOW_SIZE.expandedTo(self.minimumSizeHint()))
        if restore_layout:
            self._restore_layout()
        for dock in self._tab_docks:
            dock.visibilityChanged.connect(
                lambda visible, shown=dock: self._on_dock_tab_visibility_changed(shown, visible)
            )
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_replaced)
        document.file_state_changed.connect(self._update_title)
        document.message.connect(self._on_document_message)
        self.render_queue.job_finished.connect(self._on_render_queue_job_finished)
        self._on_document_replaced()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)  # names the dock in saveState
        dock.setWidget(widget)
        dock.setMinimumWidth(DOCK_MIN_WIDTH)
        self.addDockWidget(area, dock)
        return dock

    # -- layout ------------------------------------------------------------------------------------------

    def _restore_layout(self) -> None:
        """The window's size and place, the docks and the dock tab as the last window closed left them
        (what cannot be read is left at its default)."""
        geometry = self.settings.value(_GEOMETRY_KEY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = self.settings.value(_STATE_KEY)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state, _STATE_VERSION)
        tab = self.settings.value(_DOCK_TAB_KEY)
        chosen = next((dock for dock in self._tab_docks if dock.objectName() == tab), None)
        if chosen is not None and not chosen.isHidden():
            chosen.raise_()

    def _save_layout(self) -> None:
        self.settings.setValue(_GEOMETRY_KEY, self.saveGeometry())
        self.settings.setValue(_STATE_KEY, self.saveState(_STATE_VERSION))
        self.settings.sync()

    def _on_dock_tab_visibility_changed(self, dock: QDockWidget, visible: bool) -> None:
        # The tab brought forward is the one to show on the next start; hiding the window hides them all.
        if visible and not self.isHidden():
            self.settings.setValue(_DOCK_TAB_KEY, dock.objectName())

    # -- menus -------------------------------------------------------------------------------------------

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[..., object],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&New", self.files.new, QKeySequence.StandardKey.New)
        self._action(file, "&Open…", self.files.open_dialog, QKeySequence.StandardKey.Open)
        self._recent_menu = file.addMenu("Open &Recent")
        self.files.recent_changed.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        self._action(file, "&Save", self.files.save, QKeySequence.StandardKey.Save)
        self._action(file, "Save &As…", self.files.save_as, QKeySequence.StandardKey.SaveAs)
        file.addSeparator()
        self._action(file, "&Import Media…", self._on_import_media_triggered, "Ctrl+I")
        self._action(file, "Relink &Media…", self._on_relink_triggered)
        self._action(file, "&Export…", self._on_export_triggered, "Ctrl+E")
        file.addSeparator()
        self._action(file, "&Models…", self.open_models_window, "Ctrl+Alt+M")
        self._action(
            file, "Pre&ferences…", self._on_preferences_triggered, QKeySequence.StandardKey.Preferences
        )
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        self._undo = self._action(edit, "&Undo", self.document.undo, QKeySequence.StandardKey.Undo)
        self._redo = self._action(edit, "&Redo", self.document.redo, "Ctrl+Shift+Z")
        edit.addSeparator()
        self._action(edit, "&Copy", self.clipboard.copy, QKeySequence.StandardKey.Copy)
        self._action(edit, "&Paste", self.clipboard.paste, QKeySequence.StandardKey.Paste)
        self._action(edit, "D&uplicate", self.clipboard.duplicate, "Ctrl+D")
        self._action(edit, "Paste A&ttributes…", self._on_paste_attributes_triggered, "Ctrl+Shift+V")
        edit.addSeparator()
        self._action(edit, "&Split at Playhead", self.timeline.split_at_playhead, "S")
        self._action(edit, "&Delete (Ripple)", self.timeline.delete_selected, QKeySequence.StandardKey.Delete)
        self._action(edit, "Snap Cuts to &Beats", self._on_snap_all_triggered, "Ctrl+B")
        self._action(edit, "Add Acts from &Files…", self.media_bin.add_acts_dialog)
        self._action(edit, "Add Audio Trac&k", self.timeline.add_audio_track)
        self._action(edit, "Select &All", self._on_select_all_triggered, QKeySequence.StandardKey.SelectAll)
        edit.addSeparator()
        self._action(edit, "Check &Quality", self._on_check_quality_triggered, "Ctrl+Shift+K")

        view = bar.addMenu("&View")
        self._action(view, "Zoom &In", self.timeline.zoom_in, QKeySequence.StandardKey.ZoomIn)
        self._action(view, "Zoom &Out", self.timeline.zoom_out, QKeySequence.StandardKey.ZoomOut)
        self._action(view, "Zoom to &Fit", self.timeline.zoom_to_fit, "Shift+Z")
        view.addSeparator()
        safe = self._action(view, "Safe &Areas", self.viewer.set_safe_area, "'")
        safe.setCheckable(True)
        camera = self._action(view, "Edit &Camera Keys", self.viewer.set_camera_editing, "Shift+C")
        camera.setCheckable(True)
        snapping = self._action(view, "S&napping", self.timeline.set_snapping, "N")
        snapping.setCheckable(True)
        snapping.setChecked(True)
        view.addSeparator()
        takes = self._action(view, "&Takes", self._on_takes_triggered, "Ctrl+Shift+T")
        takes.setCheckable(True)
        # Checked while the panel is on screen (a tab behind the inspector is not).
        self.takes_dock.visibilityChanged.connect(takes.setChecked)
        self.takes_dock.visibilityChanged.connect(self.takes.set_active)
        templates = self._action(view, "Te&mplates", self._on_templates_triggered, "Ctrl+Shift+M")
        templates.setCheckable(True)
        self.templates_dock.visibilityChanged.connect(templates.setChecked)
        self.templates_dock.visibilityChanged.connect(self.templates.set_active)
        checks = self._action(view, "&Quality Checks", self._on_quality_checks_triggered, "Ctrl+Shift+Q")
        checks.setCheckable(True)
        self.qc_dock.visibilityChanged.connect(checks.setChecked)
        media = self._action(view, "M&edia", self._on_media_triggered, "Ctrl+Shift+E")
        media.setCheckable(True)
        self.media_dock.visibilityChanged.connect(media.setChecked)

        library = bar.addMenu("&Templates")
        self._action(library, "&Apply to Selection", self.templates.apply_to_selection, "Ctrl+Shift+A")
        manage = self.templates.manage
        library.addActions([manage.save_selection_action, manage.duplicate_action, manage.edit_action])
        library.addActions([manage.rename_action, manage.delete_action])
        library.addSeparator()
        library.addActions([manage.import_action, manage.export_action])

        music = bar.addMenu("&Music")
        music.setToolTipsVisible(True)  # Half/Double Tempo say why they are unavailable
        self._action(music, "&Replace Music…", self.music.replace_music_dialog)
        pacing = music.addMenu("Apply &Pacing")
        self._action(pacing, "Cut Every &4 Beats", lambda: self.music.apply_pacing("every-N-beats", n=4))
        self._action(pacing, "Cut Every &8 Beats", lambda: self.music.apply_pacing("every-N-beats", n=8))
        self._action(pacing, "Cut on &Downbeats", lambda: self.music.apply_pacing("downbeats", bars=1))
        self._action(pacing, "Follow Song &Structure", lambda: self.music.apply_pacing("structure"))
        self._action(music, "Nudge Beats &Earlier", lambda: self.music.nudge(-1), "Alt+Left")
        self._action(music, "Nudge Beats &Later", lambda: self.music.nudge(1), "Alt+Right")
        self._action(music, "&Tap Tempo", self.music.tap, "T")
        music.addActions([self.music.half_tempo_action, self.music.double_tempo_action])

        play = bar.addMenu("&Playback")
        self._action(play, "Play / &Pause", self.playback.toggle_play, "Space")
        self._action(play, "Play &Backward (J)", lambda: self.playback.shuttle(-1), "J")
        self._action(play, "&Stop (K)", lambda: self.playback.shuttle(0), "K")
        self._action(play, "Play &Forward (L)", lambda: self.playback.shuttle(1), "L")
        self._action(play, "Previous Frame", lambda: self.playback.step(-1), "Left")
        self._action(play, "Next Frame", lambda: self.playback.step(1), "Right")
        self._action(play, "Go to Start", lambda: self.document.set_playhead(0), "Home")
        self._action(play, "Go to End", self._on_go_to_end_triggered, "End")
        play.addSeparator()
        self._action(play, "Mark &In", self.in_out.mark_in, "I")
        self._action(play, "Mark &Out", self.in_out.mark_out, "O")
        self._action(play, "&Clear In and Out", self.in_out.clear, "Alt+X")
        self._action(play, "Go to In", self.in_out.go_to_in, "Shift+I")
        self._action(play, "Go to Out", self.in_out.go_to_out, "Shift+O")
        self._loop = self._action(play, "&Loop", self.playback.set_loop, "Ctrl+L")
        self._loop.setCheckable(True)
        play.addSeparator()
        review = self._action(play, "&Review Mode", self.review.set_active, "Ctrl+R")
        review.setCheckable(True)
        self.review.active_changed.connect(review.setChecked)
        self.playback.state_changed.connect(self._on_playback_state_changed)

    def _fill_recent_menu(self) -> None:
        self._recent_menu.clear()
        for path in self.files.recent():
            self._action(self._recent_menu, str(path), lambda checked=False, p=path: self._open_recent(p))
        self._recent_menu.setEnabled(bool(self.files.recent()))

    def _open_recent(self, path: Path) -> None:
        self.files.open_asking(path)

    # -- slots -------------------------------------------------------------------------------------------

    def _on_document_changed(self, changes: Changes) -> None:
        self.drafts.set_project(
            self.document.project, self.document.project_dir, self.document.history.revision
        )
        self._update_undo_actions()

    def _on_document_replaced(self) -> None:
        self.drafts.set_project(
            self.document.project, self.document.project_dir, self.document.history.revision
        )
        self._update_undo_actions()
        self._update_title()

    def _update_undo_actions(self) -> None:
        history = self.document.history
        self._undo.setEnabled(history.can_undo)
        self._redo.setEnabled(history.can_redo)
        self._undo.setText(f"&Undo {history.undo_label}" if history.undo_label else "&Undo")
        self._redo.setText(f"&Redo {history.redo_label}" if history.redo_label else "&Redo")

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document.title} — Storybeat")

    def _on_document_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _on_go_to_end_triggered(self) -> None:
        self.document.set_playhead(self.document.project.duration_frames - 1)

    def _on_playback_state_changed(self) -> None:
        self._loop.setChecked(self.playback.loop)  # the transport bar's loop button changes it too

    def _on_takes_triggered(self) -> None:
        if self.takes.active:
            self.takes_dock.close()
        else:
            self.takes_dock.show()
            self.takes_dock.raise_()

    def _on_templates_triggered(self) -> None:
        if self.templates.active:
            self.templates_dock.close()
        else:
            self.templates_dock.show()
            self.templates_dock.raise_()

    def _on_quality_checks_triggered(self, checked: bool) -> None:
        # Checked means on screen (see the visibilityChanged connection): a tab behind another is not.
        if checked:
            self.qc_dock.show()
            self.qc_dock.raise_()
        else:
            self.qc_dock.close()

    def _on_media_triggered(self, checked: bool) -> None:
        # As the Quality Checks entry: checked means the bin is on screen.
        if checked:
            self.media_dock.show()
            self.media_dock.raise_()
        else:
            self.media_dock.close()

    def _on_check_quality_triggered(self) -> None:
        self.qc_dock.show()
        self.qc_dock.raise_()
        self.qc.run_checks()

    def _on_qc_findings_changed(self) -> None:
        self.timeline.set_qc_findings(self.qc.act_findings(), self.qc.is_current)

    def _on_snap_all_triggered(self) -> None:
        self.document.execute(SnapCutsToBeats(tolerance_frames=SNAP_ALL_TOLERANCE_FRAMES))

    def _on_paste_attributes_triggered(self) -> None:
        if not self.document.selected_ids:
            self.statusBar().showMessage("Select the acts to paste attributes onto", 8000)
            return
        copied = self.clipboard.copied()
        if copied is None:
            return
        source = copied.acts[0]
        dialog = PasteAttributesDialog(source.name, len(self.document.selected_ids), self)
        if dialog.exec():
            self.clipboard.paste_attributes(source, dialog.groups())

    def _on_select_all_triggered(self) -> None:
        self.document.set_selection([act.id for act in self.document.project.acts])

    def _on_import_media_triggered(self) -> None:
        self.media_dock.show()
        self.media_dock.raise_()
        self.media_bin.import_dialog()

    def _on_relink_triggered(self) -> None:
        folder = existing_directory(self, "Search for moved media in", str(Path.home()))
        if folder:
            self.files.relink_from(Path(folder))

    def _on_export_triggered(self) -> None:
        if self.export_dialog is not None:
            self.export_dialog.deleteLater()
        self.export_dialog = ExportDialog(self.document, self)
        self.export_dialog.accepted.connect(self._on_export_dialog_accepted)
        self.export_dialog.open()

    def _on_export_dialog_accepted(self) -> None:
        assert self.export_dialog is not None
        options, output = self.export_dialog.options(), self.export_dialog.output()
        if output is None:
            return  # Export is disabled without a file name
        if options != self.document.project.export:
            self.document.execute(SetExportOptions(options))  # remembered with the project, one undo step
        self.export_to(output, options.format, options)

    def export_to(self, output: Path, fmt: str | None = None, options: ExportOptions | None = None) -> None:
        """Queue a render of the project as it is now (a frozen copy; later edits don't affect it): a final
        render of the whole film, or what `options` say (range, size, quality, draft)."""
        snapshot = self.document.project.model_copy(deep=True)
        chosen = options or ExportOptions()
        job = ExportJob(snapshot, self.document.project_dir, output, self.drafts.cache, fmt, chosen)
        self.render_queue.add(job)
        self.statusBar().showMessage(f"Exporting {output.name}…", 4000)

    def _on_render_queue_job_finished(self, ok: bool, text: str) -> None:
        self.statusBar().showMessage(f"Exported {text}" if ok else f"Export failed: {text}", 10000)

    def _on_preferences_triggered(self) -> None:
        from app.engine.backends import backend_names

        dialog = PreferencesDialog(self.preferences, backend_names(), self)
        if dialog.exec():
            self.preferences = dialog.preferences()
            self.preferences.save(self.settings)

    def open_models_window(self) -> ModelsWindow:
        """Show the Models window (one per editor window; closing it only hides it)."""
        from app.ui.models_window import ModelsWindow

        if self._models_window is None:
            self._models_window = ModelsWindow(self.models, self.settings, self)
        self._models_window.show()
        self._models_window.raise_()
        self._models_window.activateWindow()
        return self._models_window

    def offer_welcome(self) -> WelcomeDialog | None:
        """On the first start (see app.ui.welcome.should_welcome): show the welcome, once."""
        from app.ui.welcome import WelcomeDialog, mark_welcomed, should_welcome

        if not should_welcome(self.settings):
            return None
        mark_welcomed(self.settings)
        dialog = WelcomeDialog(self.models, self)
        dialog.open_demo_requested.connect(self._on_welcome_open_demo_requested)
        dialog.open_models_requested.connect(self.open_models_window)
        dialog.show()
        return dialog

    def _on_welcome_open_demo_requested(self) -> None:
        from app.cli.common import DEMO_PROJECT

        self.files.open_asking(DEMO_PROJECT)

    # -- closing -----------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.confirm_discard(QUITTING):
            event.ignore()
            return
        self._save_layout()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop playback, cancel jobs and join every thread; safe to call twice."""
        self.review.set_active(False)
        self.playback.shutdown()
        self.viewer.shutdown()
        self.qc.shutdown()
        self.media_bin.shutdown()
        self.music.shutdown()
        # Drafts first: a draft generating with a model holds the model pool an export may be waiting for.
        self.drafts.shutdown()
        self.render_queue.shutdown()
        self.models.shutdown()  # running downloads stop; their partial files stay for a resume
        from app.engine.models.pool import release_default_pool  # light: no torch unless a model ran

        release_default_pool()
        self.files.close_cleanly()

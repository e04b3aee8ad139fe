"""Installed (entry-point) plugins load only when a config needs them; a broken one that is
not needed cannot break a run; a name clash is one line naming both packages.

Each test installs throw-away distributions (a ``*.dist-info`` folder with an
``entry_points.txt`` in the ``gclhand.plugins`` group, beside the module) into a temporary
folder on ``sys.path``: exactly what ``pip install`` leaves in site-packages.
"""
import re
import sys
import textwrap

import pytest
from mmengine.config import Config

from gclhand.apis import register_all_modules
from gclhand.cli import print_config
from gclhand.cli.config import check_registered_types, load_config, load_needed_plugins
from gclhand.cli.errors import run_tool
from gclhand.registry import DISTURBERS
from gclhand.utils import ConfigError, build_component
from gclhand.utils import plugins

GOOD = """
from gclhand.models.disturbers import Disturber, Graph
from gclhand.registry import DISTURBERS


@DISTURBERS.register_module()
class {cls}(Disturber):
    def disturb(self, g: Graph) -> Graph:
        return Graph(g.x * 0.5, g.edge_index, g.edge_weight)
"""
BROKEN = """
open({marker!r}, 'w').write('imported')
import a_dependency_that_is_not_installed
"""
CLASH = """
from gclhand.models.disturbers import Disturber
from gclhand.registry import DISTURBERS


@DISTURBERS.register_module(name={name!r}, force={force})
class Impostor(Disturber):
    pass
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """``install(dist, entry_point, module, code)`` puts a plugin distribution on sys.path;
    registries and the plugin bookkeeping are restored afterwards."""
    root = tmp_path / 'site'
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(plugins, '_ATTEMPTED', {})
    monkeypatch.setattr(plugins, '_CLASHED', {})
    monkeypatch.delenv(plugins.ENV, raising=False)
    register_all_modules()
    saved = dict(DISTURBERS._module_dict)
    modules = []

    def install(dist: str, entry_point: str, module: str, code: str, attr: str = '') -> None:
        (root / f'{module}.py').write_text(textwrap.dedent(code))
        info = root / f'{dist}-0.1.dist-info'
        info.mkdir()
        (info / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n')
        value = f'{module}:{attr}' if attr else module  # 'module' or 'module:object'
        (info / 'entry_points.txt').write_text(f'[gclhand.plugins]\n{entry_point} = {value}\n')
        (info / 'top_level.txt').write_text(module + '\n')
        modules.append(module)

    yield install
    DISTURBERS._module_dict.clear()
    DISTURBERS._module_dict.update(saved)
    for module in modules:
        sys.modules.pop(module, None)


def config(tmp_path, disturber: str) -> Config:
    path = tmp_path / 'cfg.py'
    path.write_text("_base_ = ['gclhand::dgcl_synth.py']\nmodel = dict(dgcl=dict(disturber="
                    f"dict(_delete_=True, type={disturber!r})))\n")
    return Config.fromfile(str(path))


def test_a_run_that_needs_no_plugin_imports_none(site, tmp_path):
    marker = tmp_path / 'broken_was_imported'
    site('broken-plugin', 'a_broken', 'broken_plugin_mod', BROKEN.format(marker=str(marker)))
    site('good-plugin', 'good', 'good_plugin_mod', GOOD.format(cls='EpHalf'))
    assert load_needed_plugins(config(tmp_path, 'FeatureMask')) == []
    assert not marker.exists() and 'good_plugin_mod' not in sys.modules
    assert DISTURBERS.get('EpHalf') is None


def test_a_needed_type_loads_plugins_and_skips_a_broken_one(site, tmp_path, capsys):
    marker = tmp_path / 'broken_was_imported'
    site('broken-plugin', 'a_broken', 'broken_plugin_mod', BROKEN.format(marker=str(marker)))
    site('good-plugin', 'good', 'good_plugin_mod', GOOD.format(cls='EpHalf'))
    site('late-plugin', 'z_late', 'late_plugin_mod', GOOD.format(cls='EpLate'))
    assert load_needed_plugins(config(tmp_path, 'EpHalf')) == ['good']
    assert DISTURBERS.get('EpHalf') is not None
    assert marker.exists()  # tried first (entry points in name order), skipped
    assert 'late_plugin_mod' not in sys.modules  # stopped once nothing was missing
    failures = plugins.plugin_failures()
    assert list(failures) == ['a_broken']
    assert "ModuleNotFoundError: No module named 'a_dependency_that_is_not_installed'" in \
        failures['a_broken']


def test_build_component_loads_on_demand_and_lists_failures(site, tmp_path):
    site('broken-plugin', 'a_broken', 'broken_plugin_mod',
         BROKEN.format(marker=str(tmp_path / 'm')))
    site('good-plugin', 'good', 'good_plugin_mod', GOOD.format(cls='EpHalf'))
    assert type(build_component(DISTURBERS, dict(type='EpHalf'))).__name__ == 'EpHalf'
    with pytest.raises(ConfigError) as exc:
        build_component(DISTURBERS, dict(type='NoSuchDisturber'), key='model.dgcl.disturber')
    message = str(exc.value)
    assert "unknown disturber 'NoSuchDisturber' at config key 'model.dgcl.disturber'" in message
    assert ('Installed plugins that failed to import: a_broken: ModuleNotFoundError: '
            "No module named 'a_dependency_that_is_not_installed'") in message
    # the tools' check before anything is built says the same about the broken plugin
    cfg = config(tmp_path, 'EpHalf')
    cfg.model.type = 'NoSuchEstimator'
    with pytest.raises(ConfigError, match="unknown model 'NoSuchEstimator'") as checked:
        check_registered_types(cfg)
    assert str(checked.value).endswith(message[message.index('. Installed plugins'):])


def clash_line(dist, entry_point, module, name, owner):
    fix = ('a plugin must not replace a gclhand component: register it under a new name'
           if owner.startswith('gclhand itself') else
           'rename the component in one of them, or uninstall one')
    return (f"gclhand plugin clash: package '{dist}' (entry point '{entry_point}' = {module}) "
            f"registers disturber '{name}', which {owner} already registers — {fix} (or set "
            'GCLHAND_PLUGINS=none to load no entry-point plugins)')


@pytest.mark.parametrize('force', [False, True])
def test_replacing_a_library_component_names_both_packages(site, tmp_path, force):
    """The clash is undone (the library's class stays), the plugin is skipped, and the
    run that needed something from it fails with a line naming both packages."""
    site('impostor-plugin', 'impostor', 'impostor_mod', CLASH.format(name='FeatureMask',
                                                                     force=force))
    original = DISTURBERS.get('FeatureMask')
    assert load_needed_plugins(config(tmp_path, 'NeedsAPlugin')) == []
    assert DISTURBERS.get('FeatureMask') is original
    line = clash_line('impostor-plugin', 'impostor', 'impostor_mod', 'FeatureMask',
                      f'gclhand itself ({original.__module__})')
    assert plugins.plugin_failures() == {'impostor': line}
    with pytest.raises(ConfigError) as exc:
        build_component(DISTURBERS, dict(type='NeedsAPlugin'), key='model.dgcl.disturber')
    if force:  # the import ran to its end: the plugin does not provide the missing type
        assert str(exc.value).startswith("unknown disturber 'NeedsAPlugin' at config key "
                                         "'model.dgcl.disturber' — did you install/import")
        assert str(exc.value).endswith(f'. Installed plugins that failed to import: '
                                       f'impostor: {line}')
    else:  # the import stopped at the clash: what it would register next is unknown
        assert str(exc.value) == (
            f"{line}; its import stopped there, so the disturber 'NeedsAPlugin' at config "
            "key 'model.dgcl.disturber' may be one of the components it did not get to "
            'register')
    # a near-miss of a registered name is a typo, whatever clashed
    with pytest.raises(ConfigError, match=r"^unknown disturber 'FeatureMsk' .* did you mean "
                       r"'FeatureMask'"):
        build_component(DISTURBERS, dict(type='FeatureMsk'), key='model.dgcl.disturber')


def test_a_clash_that_knocks_out_the_needed_plugin_leads_the_error(site, tmp_path, capsys,
                                                                   monkeypatch):
    """Two installed packages register one name; the one imported first keeps it and the
    other, which also provides the type the config needs, is skipped (found by an outside
    user: the clash was then a parenthesis at the end of an "unknown type" line)."""
    # the skip warning is collected here: MMEngine's current logger may still hold a stream
    # of an earlier test, closed since, and print "--- Logging error ---" to stderr
    logged = []
    monkeypatch.setattr(plugins, 'print_log', lambda msg, **kw: logged.append(msg))
    site('a-plugin', 'a', 'a_plugin_mod', GOOD.format(cls='SharedName'))
    site('b-plugin', 'b', 'b_plugin_mod', GOOD.format(cls='SharedName')
         + GOOD.format(cls='OnlyInB').split('\n\n\n', 1)[1])
    cfg = config(tmp_path, 'OnlyInB')

    def build(argv):  # what training does: check the config, then build the disturber
        check_registered_types(cfg)
        build_component(DISTURBERS, cfg.model.dgcl.disturber, key='model.dgcl.disturber')

    assert run_tool(build, []) == 2
    err = capsys.readouterr().err.strip().splitlines()
    line = clash_line('b-plugin', 'b', 'b_plugin_mod', 'SharedName',
                      "package 'a-plugin' (a_plugin_mod)")
    assert err == [f"error: {line}; its import stopped there, so the disturber 'OnlyInB' at "
                   "config key 'model.dgcl.disturber' may be one of the components it did "
                   'not get to register']
    assert logged == [f'gclhand: skipped a plugin: {line}', "gclhand: loaded plugins ['a'] "
                      "looking for ['OnlyInB']; still missing: ['OnlyInB']"]


def test_a_clash_is_blamed_only_for_the_names_its_plugin_registers(site, tmp_path):
    """A plugin that forces a library name and registers one more (found by an outside
    user: every unknown type, typos included, was blamed on the clash): an unknown type it
    registered leads with the clash; a typo of another plugin's type is an ordinary
    unknown-type error with its near miss."""
    site('forcing-plugin', 'forcing', 'forcing_mod',
         CLASH.format(name='FeatureMask', force=True) + GOOD.format(cls='OnlyInForcing'))
    site('other-plugin', 'other', 'other_mod', GOOD.format(cls='SymmetricEdgeDrop'))
    load_needed_plugins(config(tmp_path, 'OnlyInForcing'))
    assert DISTURBERS.get('OnlyInForcing') is None
    line = plugins.plugin_failures()['forcing']
    with pytest.raises(ConfigError) as exc:
        build_component(DISTURBERS, dict(type='OnlyInForcing'), key='k')
    assert str(exc.value) == (f"{line}; because of it the disturber 'OnlyInForcing' at "
                              "config key 'k' is not registered")
    with pytest.raises(ConfigError) as exc:
        build_component(DISTURBERS, dict(type='SymetricEdgeDrop'), key='k')
    assert str(exc.value).startswith("unknown disturber 'SymetricEdgeDrop' at config key 'k' "
                                     "— did you mean 'SymmetricEdgeDrop'?")
    assert f'Installed plugins that failed to import: forcing: {line}' in str(exc.value)


def test_two_plugins_with_one_name(site, tmp_path, monkeypatch):
    """A clashing plugin that the run does not need is skipped with one warning line; the
    run goes on with the plugin that provides the type."""
    site('first-plugin', 'first', 'first_plugin_mod', GOOD.format(cls='SharedName'))
    site('second-plugin', 'second', 'second_plugin_mod',
         CLASH.format(name='SharedName', force=False))
    site('third-plugin', 'third', 'third_plugin_mod', GOOD.format(cls='OnlyInThird'))
    config(tmp_path, 'OnlyInThird')
    logged = []
    monkeypatch.setattr(plugins, 'print_log', lambda msg, **kw: logged.append(msg))
    assert run_tool(print_config.main, [str(tmp_path / 'cfg.py')]) == 0
    line = clash_line('second-plugin', 'second', 'second_plugin_mod', 'SharedName',
                      "package 'first-plugin' (first_plugin_mod)")
    assert logged[0] == f'gclhand: skipped a plugin: {line}'
    assert DISTURBERS.get('SharedName').__module__ == 'first_plugin_mod'
    assert DISTURBERS.get('OnlyInThird') is not None


def test_policy_all_raises_a_clash(site, tmp_path, monkeypatch):
    site('impostor-plugin', 'impostor', 'impostor_mod', CLASH.format(name='FeatureMask',
                                                                     force=True))
    monkeypatch.setenv(plugins.ENV, 'all')
    original = DISTURBERS.get('FeatureMask')
    with pytest.raises(plugins.PluginError, match="registers disturber 'FeatureMask'"):
        register_all_modules()
    assert DISTURBERS.get('FeatureMask') is original


def test_policy_none_and_a_named_list(site, tmp_path, monkeypatch):
    site('good-plugin', 'good', 'good_plugin_mod', GOOD.format(cls='EpHalf'))
    monkeypatch.setenv(plugins.ENV, 'none')
    assert load_needed_plugins(config(tmp_path, 'EpHalf')) == []
    with pytest.raises(ConfigError) as exc:  # the error says what kept the plugin out
        build_component(DISTURBERS, dict(type='EpHalf'), key='model.dgcl.disturber')
    assert str(exc.value).endswith(
        ' (GCLHAND_PLUGINS=none kept these installed plugins from being searched: good)')
    monkeypatch.setenv(plugins.ENV, 'other,names')
    assert load_needed_plugins(config(tmp_path, 'EpHalf')) == []
    monkeypatch.setenv(plugins.ENV, 'other,good')
    assert load_needed_plugins(config(tmp_path, 'EpHalf')) == ['good']


def test_policy_all_loads_eagerly_and_a_broken_plugin_is_named(site, tmp_path, monkeypatch):
    site('good-plugin', 'good', 'good_plugin_mod', GOOD.format(cls='EpHalf'))
    monkeypatch.setenv(plugins.ENV, 'all')
    logged = []
    monkeypatch.setattr(plugins, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw.get('logger'))))
    register_all_modules()
    assert DISTURBERS.get('EpHalf') is not None
    assert logged == [("gclhand: loaded plugins ['good_plugin_mod']", 'current')]
    site('broken-plugin', 'a_broken', 'broken_plugin_mod',
         BROKEN.format(marker=str(tmp_path / 'm')))
    with pytest.raises(plugins.PluginError) as exc:
        register_all_modules()
    assert str(exc.value) == (
        "gclhand plugin package 'broken-plugin' (entry point 'a_broken' = broken_plugin_mod) "
        "failed to import: ModuleNotFoundError: No module named "
        "'a_dependency_that_is_not_installed' — load_plugins() (GCLHAND_PLUGINS=all) imports "
        'every installed plugin: fix or uninstall it, or leave GCLHAND_PLUGINS unset and let '
        'gclhand load plugins only when a config needs them')


FAILS_AFTER_FORCING = """
from gclhand.models.disturbers import Disturber
from gclhand.registry import DISTURBERS


@DISTURBERS.register_module(name='FeatureMask', force=True)
class Impostor(Disturber):
    pass


import a_dependency_that_is_not_installed
"""


def test_a_plugin_that_fails_part_way_leaves_no_registration(site, tmp_path):
    """It forced a library name and then failed to import: skipped, and gclhand's class is
    back in place (it stayed replaced before)."""
    site('half-plugin', 'half', 'half_plugin_mod', FAILS_AFTER_FORCING)
    original = DISTURBERS.get('FeatureMask')
    assert load_needed_plugins(config(tmp_path, 'NeedsAPlugin')) == []
    assert DISTURBERS.get('FeatureMask') is original
    assert 'ModuleNotFoundError' in plugins.plugin_failures()['half']


SIZED = """
from gclhand.models.disturbers import Disturber, Graph
from gclhand.registry import DISTURBERS


@DISTURBERS.register_module()
class EpSized(Disturber):
    def __init__(self, channels):
        super().__init__()
        self.channels = channels

    def disturb(self, g: Graph) -> Graph:
        return g._replace(x=g.x * 0.5)
"""


def test_sizes_are_filled_for_a_plugin_loaded_on_demand(site, tmp_path):
    """A parent fills the sizes a child's __init__ takes (fill_defaults); for an installed
    plugin built from Python (no command line loading it first) the lookup loads it, so
    the first build gets them too (it raised "missing 'channels'" before)."""
    from gclhand.utils.build import fill_defaults
    site('sized-plugin', 'sized', 'sized_plugin_mod', SIZED)
    cfg = fill_defaults(DISTURBERS, dict(type='EpSized'), channels=16, unused=3)
    assert cfg == dict(type='EpSized', channels=16)
    assert build_component(DISTURBERS, cfg).channels == 16


LOOP = """
from mmengine.runner import EpochBasedTrainLoop

from gclhand.registry import LOOPS


@LOOPS.register_module()
class EpLoop(EpochBasedTrainLoop):
    pass
"""


def test_a_plugin_training_loop_is_loaded(site, tmp_path):
    """train_cfg's type is a LOOPS name: searched like the model's types (the walk once
    skipped every *_cfg key, so an installed loop was reported unknown)."""
    from gclhand.registry import LOOPS
    site('loop-plugin', 'loop', 'loop_plugin_mod', LOOP)
    cfg = config(tmp_path, 'FeatureMask')
    cfg.train_cfg = dict(type='EpLoop', max_epochs=1)
    try:
        assert load_needed_plugins(cfg) == ['loop']
        check_registered_types(cfg)
    finally:
        LOOPS._module_dict.pop('EpLoop', None)


def test_the_unknown_type_error_says_which_plugins_were_held_back_or_failed(site, tmp_path,
                                                                            monkeypatch):
    """A named list holds back the other installed plugins (named in the error); ``all``
    and a list naming every plugin hold back none; plugins that failed to import are
    listed, ``; `` between them."""
    site('good-plugin', 'good', 'good_plugin_mod', GOOD.format(cls='EpHalf'))

    def error(type_name):
        with pytest.raises(ConfigError) as exc:
            build_component(DISTURBERS, dict(type=type_name), key='model.dgcl.disturber')
        return str(exc.value)

    monkeypatch.setenv(plugins.ENV, ' other,names ')
    assert error('EpHalf').endswith(' (GCLHAND_PLUGINS=other,names kept these installed '
                                    'plugins from being searched: good)')
    monkeypatch.setenv(plugins.ENV, 'auto')
    plain = error('NoSuchDisturber')
    # nothing held back, nothing failed: the registry's message, nothing appended
    assert plain.endswith('? Registered: ' + ', '.join(sorted(DISTURBERS.module_dict))), plain
    for setting in ('all', 'good', 'auto'):  # nothing held back: nothing appended
        monkeypatch.setenv(plugins.ENV, setting)
        assert error('NoSuchDisturber') == plain, setting
    monkeypatch.setenv(plugins.ENV, 'auto')
    for name in ('a_broken', 'b_broken'):
        site(f'{name}-plugin', name, f'{name}_mod', BROKEN.format(marker=str(tmp_path / name)))
    msg = error('NoSuchDisturber')
    assert re.search(r"\. Installed plugins that failed to import: a_broken: [^;]*"
                     r"ModuleNotFoundError[^;]*; b_broken: [^;]*ModuleNotFoundError", msg), msg
    monkeypatch.setenv(plugins.ENV, 'good')  # two held back, listed by name
    assert error('NoSuchDisturber').endswith(' (GCLHAND_PLUGINS=good kept these installed '
                                             'plugins from being searched: a_broken, b_broken)')


def test_an_entry_point_naming_an_object_imports_its_module(site, tmp_path):
    """``name = module:object`` (the usual entry-point form) imports ``module``."""
    site('good-plugin', 'good', 'good_plugin_mod', GOOD.format(cls='EpHalf'), attr='unused')
    assert load_needed_plugins(config(tmp_path, 'EpHalf')) == ['good']
    assert DISTURBERS.get('EpHalf') is not None


def test_a_missing_custom_import_lists_only_what_no_installed_plugin_provides(site, tmp_path):
    """A ``custom_imports`` module that is not installed, in a config that also uses an
    installed entry-point plugin (found by an outside user: the error listed the entry-point
    plugin's types, each twice when a helper variable held it, as 'unknown type', and cut
    the missing module's own type off)."""
    site('good-plugin', 'good', 'good_plugin_mod', GOOD.format(cls='EpHalf'))
    path = tmp_path / 'cfg.py'
    path.write_text(textwrap.dedent("""
        _base_ = ['gclhand::dgcl_synth.py']
        custom_imports = dict(imports=['not_installed_mod'], allow_failed_imports=False)
        model = dict(dgcl=dict(disturber=dict(_delete_=True, type='EpHalf')))
        my_hooks = [dict(type='NotInstalledHook'), dict(type='EpHalf')]
        custom_hooks = my_hooks[:1]
        """))
    with pytest.raises(ConfigError) as exc:
        load_config(str(path))
    msg = str(exc.value)
    assert ("custom_imports could not import the plugin module 'not_installed_mod' "
            "(ModuleNotFoundError: No module named 'not_installed_mod') — without it: unknown "
            "hook 'NotInstalledHook' at config key 'custom_hooks.0' — did you install") in msg
    assert 'EpHalf' not in msg and 'my_hooks' not in msg


HOOK = """
from mmengine.hooks import Hook

from gclhand.registry import HOOKS


@HOOKS.register_module()
class EpHook(Hook):
    pass
"""


def test_build_runner_loads_the_plugins_the_runner_builds(site, tmp_path):
    """A hook from an installed plugin, built by MMEngine's Runner from Python with
    ``build_runner`` alone (found by an outside user: MMEngine's bare KeyError unless
    ``load_needed_plugins`` was called first)."""
    from gclhand.engine import build_runner
    from gclhand.registry import HOOKS
    site('hook-plugin', 'hook', 'hook_plugin_mod', HOOK)
    cfg = config(tmp_path, 'FeatureMask')
    cfg.custom_hooks = [dict(type='EpHook')]
    cfg.work_dir = str(tmp_path / 'wd')
    try:
        runner = build_runner(cfg)
        assert any(type(h).__name__ == 'EpHook' for h in runner.hooks)
    finally:
        HOOKS._module_dict.pop('EpHook', None)


def test_a_plugin_shadowed_by_a_folder_is_named(site, tmp_path):
    """An editable install run from the folder that holds its project folder imports that
    folder as an empty namespace package (found by an outside user: the error only said
    the type was unknown)."""
    site('shadowed-plugin', 'shadowed', 'shadowed_mod', GOOD.format(cls='EpShadowed'))
    root = tmp_path / 'site'
    (root / 'shadowed_mod.py').unlink()
    (root / 'shadowed_mod').mkdir()  # the project folder: no __init__.py
    with pytest.raises(ConfigError) as exc:
        build_component(DISTURBERS, dict(type='EpShadowed'), key='k')
    assert ("Installed plugins that failed to import: shadowed: ImportError: 'shadowed_mod' "
            f"was imported as an empty namespace package from {root / 'shadowed_mod'} (a "
            'folder of that name on the Python path') in str(exc.value)
    assert 'run Python from another folder (docs/plugins.md, section 2)' in str(exc.value)

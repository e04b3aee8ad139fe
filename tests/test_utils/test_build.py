"""gclhand.utils.build: the one-line errors for unknown types and the sizes a parent fills."""
import pytest
import torch.nn as nn

from gclhand.registry import DISTURBERS
from gclhand.utils import ConfigError, build_component
from gclhand.utils.build import fill_defaults


@pytest.mark.parametrize('typo,expected', [('FeatureNoize', "'FeatureNoise'"),
                                           ('featurenoise', "'FeatureNoise'"),
                                           ('EdgeAd', "'EdgeAdd'")])
def test_an_unknown_type_names_the_key_and_close_registered_names(typo, expected):
    with pytest.raises(ConfigError) as err:
        build_component(DISTURBERS, dict(type=typo), key='model.dgcl.disturber')
    msg = str(err.value)
    assert msg.startswith(f"unknown disturber '{typo}' at config key 'model.dgcl.disturber' "
                          f'— did you mean {expected}')
    assert 'did you install/import the plugin' in msg and 'Registered: ' in msg


def test_no_suggestion_for_a_name_far_from_every_registered_one():
    with pytest.raises(ConfigError) as err:
        build_component(DISTURBERS, dict(type='Zzzzqqq'), key='model.dgcl.disturber')
    assert 'did you mean' not in str(err.value)


@DISTURBERS.register_module(force=True)
class NoInitForBuildTest(nn.Module):
    def forward(self, x, edge_index, edge_weight=None, node_mask=None):
        return x


def test_sizes_go_only_to_an_init_that_takes_them():
    assert fill_defaults(DISTURBERS, dict(type='NoInitForBuildTest'), channels=8) == dict(
        type='NoInitForBuildTest')
    assert fill_defaults(DISTURBERS, dict(type='FeatureNoise'), channels=8, unused=1) == dict(
        type='FeatureNoise')
    filled = fill_defaults(DISTURBERS, dict(type='GraphUNetDisturber'), channels=8)
    assert filled == dict(type='GraphUNetDisturber', channels=8)


def test_keys_left_over_from_a_base_config_name_the_key_and_delete():
    """A config that changes model.dgcl.disturber from GraphUNetDisturber to FeatureNoise
    without _delete_ keeps the base's depth: one line naming the key and the fix."""
    with pytest.raises(ConfigError, match=r"config key 'model\.dgcl\.disturber' \(type "
                                          r"'FeatureNoise'\): .*unexpected keyword argument "
                                          r"'depth'.*add _delete_=True"):
        build_component(DISTURBERS, dict(type='FeatureNoise', sigma=0.1, depth=3),
                        key='model.dgcl.disturber')


def test_did_you_mean_lists_three_close_names_or_a_case_only_match():
    from gclhand.utils.build import class_name, did_you_mean
    assert did_you_mean('Cat', ['Dog', 'Can', 'Cab', 'Car', 'Cap']) == (
        "did you mean 'Car' or 'Cap' or 'Can'? ")  # the three closest, closest first
    # all capitals is too far for difflib; differing only in case still finds it
    assert did_you_mean('CHEBGCNDECODER', ['ResNet', 'ChebGCNDecoder', 'HandSplit']) == (
        "did you mean 'ChebGCNDecoder'? ")
    assert did_you_mean('Zzzzqqq', ['ResNet']) == ''
    assert class_name(nn.ReLU()) == 'torch.nn.modules.activation.ReLU'

"""The data element that carries one two-hand sample's labels and predictions."""
from mmengine.structures import BaseDataElement

#: Order of the hand axis in every (2, ...) array of the library: index 0 left, 1 right.
HANDS = ('left', 'right')
NUM_HAND_JOINTS = 21
NUM_HAND_VERTS = 778


class HandDataSample(BaseDataElement):
    """Labels and predictions of one image of two hands.

    All 3D quantities are in the camera frame, in metres; the leading axis of every
    per-hand field follows :data:`HANDS` (0 = left, 1 = right).  Joint order is the
    library's (wrist, thumb1-4, index1-4, middle1-4, ring1-4, pinky1-4; see
    :mod:`gclhand.hand.joints`).

    Ground truth (set by ``PackHandInputs``):
        - ``gt_joints_3d`` (2, 21, 3), ``gt_verts_3d`` (2, 778, 3): camera-space metres.
        - ``gt_joints_2d`` (2, 21, 2): pixels in the network input image.
        - ``cam_K`` (3, 3): intrinsics of the network input image.
        - ``hand_valid`` (2,): 1 where the hand is annotated.
        - InterHand2.6M's official protocol, when the dataset has them:
          ``gt_joints_3d_annot`` (2, 21, 3) annotated joints (camera-space metres),
          ``joints_valid`` (2, 21) per-joint validity, ``gt_hand_type`` (2,) 1 where the
          annotated hand type shows the hand, ``hand_type_valid`` () 1 if it is reliable.

    Predictions (set by the estimator's ``predict``):
        - ``pred_joints_3d`` (2, 21, 3), ``pred_verts_3d`` (2, 778, 3): metres, each hand
          relative to its own wrist (absolute depth is not observable from a crop).
        - ``pred_rel_root`` (3,): left wrist minus right wrist, metres.
        - ``pred_cam`` (2, 3): weak-perspective camera per hand (scale, tx, ty).
        - ``pred_joints_2d`` (2, 21, 2): pixels.
        - ``pred_hand_type`` (2,): optional hand-presence scores (left, right); a model
          without it predicts both hands (``InterHandMetric``'s handedness).

    Metainfo: ``img_path``, ``sample_idx``, ``img_shape``, ``ori_shape``, ``flip``.
    """

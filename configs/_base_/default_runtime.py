# Runtime shared by every experiment: hooks, logging, environment, visualisation.
default_scope = 'gclhand'
# GCLHandRunner: atomic checkpoints, exact resume (RNG + sampler state), CPU/gloo DDP
runner_type = 'GCLHandRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    # ParamSchedulerHook + the training-loss plateau of the paper's recipe
    param_scheduler=dict(type='TrainLossParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='intaghand/mpjpe', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # the runner (GCLHandRunner.setup_env) switches to gloo when CUDA is unavailable
    dist_cfg=dict(backend='nccl'),
    # glibc malloc keeps freed memory instead of faulting it back in every step
    # (gclhand.utils.malloc; None leaves a threshold at the C library default)
    malloc_cfg=dict(mmap_threshold=32 * 2**20, trim_threshold=2**30),
)

vis_backends = [dict(type='LocalVisBackend')]
# TensorBoard (pip install tensorboard): append dict(type='TensorboardVisBackend')
visualizer = dict(type='HandVisualizer', vis_backends=vis_backends, name='visualizer')
# every 10th validation batch: input | GT | prediction | side view, into vis_data/
custom_hooks = [dict(type='HandVisualizationHook', interval=10, max_samples=4)]

log_processor = dict(by_epoch=True, window_size=20)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)

"""``torch.profiler`` over train steps: time per top-level module / phase, top operators."""
from .sections import Trainer


def profile_steps(trainer: Trainer, n: int, row_limit: int = 15) -> dict:
    """torch.profiler over ``n`` train steps: time per phase / module and top operators."""
    from torch.profiler import ProfilerActivity, profile, record_function
    model, optim = trainer.model, trainer.optim
    handles = []

    def pre(name):
        def hook(mod, inp):
            mod._bench_rf = record_function(f'## {name}')
            mod._bench_rf.__enter__()
        return hook

    def post(mod, inp, out):
        mod._bench_rf.__exit__(None, None, None)

    for name in ('data_preprocessor', 'encoder', 'hand_split', 'decoder', 'camera_head'):
        mod = getattr(model, name)
        handles += [mod.register_forward_pre_hook(pre(name)), mod.register_forward_hook(post)]
    patched = []

    def wrap(obj, attr, label):
        fn = getattr(obj, attr)

        def wrapped(*a, **k):
            with record_function(f'## {label}'):
                return fn(*a, **k)
        setattr(obj, attr, wrapped)
        patched.append((obj, attr))

    if getattr(model, 'dgcl', None) is not None:
        wrap(model.dgcl, 'loss', 'dgcl.loss (incl. 2nd decoder pass)')
        for name, mod in model.dgcl.named_children():
            if name != 'key_encoder':  # its copy of the decoder is called via forward
                handles += [mod.register_forward_pre_hook(pre(f'dgcl.{name}')),
                            mod.register_forward_hook(post)]
        if getattr(model.dgcl, 'key_encoder', None) is not None:
            wrap(model.dgcl.key_encoder, 'update', 'dgcl.key_encoder.update (EMA)')
            wrap(model.dgcl.key_encoder, 'forward', 'dgcl.key_encoder (keys)')
    wrap(optim, 'backward', 'backward')
    wrap(optim, 'step', 'optimizer.step')
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA]
                                     if trainer.device.type == 'cuda' else [])
    trainer.step()
    try:
        with profile(activities=acts) as prof:
            for _ in range(n):
                trainer.step()
    finally:
        for h in handles:
            h.remove()
        for obj, attr in patched:
            delattr(obj, attr)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    phases = {e.key[3:]: e.cpu_time_total / n / 1e3 for e in events if e.key.startswith('## ')}
    ops = sorted((e for e in events if not e.key.startswith('## ')),
                 key=lambda e: e.self_cpu_time_total, reverse=True)[:row_limit]
    top = [dict(op=e.key, self_ms_per_step=e.self_cpu_time_total / n / 1e3,
                self_pct=100.0 * e.self_cpu_time_total / total) for e in ops]
    return dict(steps=n, phase_ms_per_step=phases, top_ops=top)


__all__ = ['profile_steps']

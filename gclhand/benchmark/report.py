"""The benchmark's printed table."""


def _ratio_label(key: str, bs: int) -> str:
    """``infer_vs_encoder_batch8`` -> ``vs_encoder``; ``infer_batch8`` -> ``vs_baseline``."""
    stem = key[:-len(f'_batch{bs}')]
    return 'vs_baseline' if stem == 'infer' else stem[len('infer_'):]


def print_report(r: dict) -> None:
    names = r['names']
    cfg, base = names[0], (names[1] if len(names) > 1 else None)
    print(f"\n== gclhand benchmark: {r['config']} vs {r.get('baseline')}  "
          f"(device {r['machine']['device']}, torch {r['machine']['torch']}, "
          f"{r['machine']['threads']} threads, {r.get('clock', 'wall')} clock, "
          f"batch {r['batch']}, amp {r['amp']}, "
          f"load {r['machine'].get('loadavg_start')} -> {r['machine'].get('loadavg_end')})")
    if 'train' in r:
        t = r['train']
        for n in names + (['encoder'] if 'encoder' in t else []):
            print(f"train step  {n:<10} {t[n]['step_ms']:9.1f} ms median "
                  f"({t[n]['step_ms_min']:.1f} min)  {t[n]['samples_per_s']:8.1f} samples/s")
        if base:
            print(f"train ratio {cfg}/{base}: {r['ratios']['train_step']:.2f}x median, "
                  f"{r['ratios']['train_step_min']:.2f}x min")
        if 'encoder' in t:
            print('train ratio to the encoder alone (fwd + bwd + update): ' + ', '.join(
                f"{n} {r['ratios'][f'train_step_{n}_vs_encoder']:.2f}x" for n in names))
        print(f"peak memory: {t['peak_memory_mb']:.0f} MiB")
    if 'infer' in r:
        i = r['infer']
        if 'identical_graph' in i:
            print(f"deployed graphs identical: {i['identical_graph']}, "
                  f"identical outputs: {i.get('identical_outputs')}")
        if 'params_m' in i:
            print('parameters (M): ' + ', '.join(f'{n} {v:.1f}' for n, v in
                                                  i['params_m'].items()))
        for bs in r['infer_batches']:
            row = i[f'batch{bs}']
            s = '  '.join(f"{n} {v['latency_ms']:.1f} ms" for n, v in row.items()
                          if isinstance(v, dict))
            print(f'inference batch {bs:<3} {s}')
            flops = '  '.join(f"{n} {v['gflop']:.2f}" for n, v in row.items()
                              if isinstance(v, dict) and 'gflop' in v)
            if flops:
                print(f'  GFLOP per call: {flops}')
            ratios = [(_ratio_label(k, bs), v) for k, v in r['ratios'].items()
                      if k.startswith('infer') and k.endswith(f'_batch{bs}')]
            if ratios:
                print('  ratios: ' + ', '.join(f'{k} {v:.2f}x' for k, v in ratios))
    if 'data' in r:
        for k, v in r['data'].items():
            print(f"data pipeline {k}: {v['samples_per_s']:.1f} samples/s "
                  f"({v['samples_per_s_per_worker']:.1f} per worker, start-up "
                  f"{v['startup_s']:.1f} s)")
    if 'e2e' in r:
        e = r['e2e']
        print(f"end-to-end ({e['workers']} workers): {e['samples_per_s']:.1f} samples/s, "
              f"data {e['data_ms']:.1f} ms + compute {e['compute_ms']:.1f} ms per step "
              f"(data {100 * e['data_fraction']:.0f}%)")
    if 'profile' in r:
        p = r['profile']
        print(f"profile ({p['steps']} {cfg} steps), ms per step by phase/module:")
        for k, v in sorted(p['phase_ms_per_step'].items(), key=lambda kv: -kv[1]):
            print(f'  {v:9.1f}  {k}')
        print('top operators (self time):')
        for o in p['top_ops']:
            print(f"  {o['self_ms_per_step']:9.1f} ms  {o['self_pct']:5.1f}%  {o['op']}")


__all__ = ['print_report']

#!/usr/bin/env python3
"""Times one train step of triceratops' built-in models beside JAX and PyTorch.

Runs `triceratops bench` and, for each peer that imports, the same workload
(shapes, loss, optimizer, batch, synthetic data) in a fresh subprocess per
(framework, workload, thread count), and prints one table per workload.
Not part of CI; see README.md in this folder for what exactly is timed.
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The built-in recipes (src/models.rs), as `triceratops bench` runs them.
WORKLOADS = {
    "linreg": dict(batch=1024, opt="sgd", lr=0.1, loss="mse"),
    "mnist-mlp": dict(batch=128, opt="adam", lr=1e-3, loss="categorical_crossentropy"),
    "seed-cnn": dict(batch=128, opt="rmsprop", lr=1e-3, loss="categorical_crossentropy"),
}
INPUT = {"linreg": (1,), "mnist-mlp": (784,), "seed-cnn": (32, 32, 3)}
BETA_1, BETA_2, RHO, EPS = 0.9, 0.999, 0.9, 1e-7  # Keras defaults
PEERS = ["jax jit", "torch eager", "torch.compile"]
IMPORTS = {"jax jit": "jax", "torch eager": "torch", "torch.compile": "torch"}
REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- data, timing


def synthetic(workload, channels_first=False):
    """Inputs uniform in [0, 1), one-hot random labels, or 2x + 1 (linreg)."""
    import numpy as np

    rng = np.random.default_rng(42)
    batch = WORKLOADS[workload]["batch"]
    x = rng.random((batch, *INPUT[workload]), dtype=np.float32)
    if workload == "linreg":
        y = 2 * x + 1
    else:
        y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    if channels_first and x.ndim == 4:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x, y


def time_steps(step, warmup, steps):
    """First call (compile + first step) in ms, median of `steps` timed calls in ms,
    first and last loss. The first call is one of the `warmup` untimed steps."""
    start = time.perf_counter()
    loss_1 = step()
    first = time.perf_counter() - start
    for _ in range(warmup - 1):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss_n = step()
        times.append(time.perf_counter() - start)
    return first * 1e3, statistics.median(times) * 1e3, float(loss_1), float(loss_n)


# ---------------------------------------------------------------- JAX


def jax_step(workload, threads):
    import jax
    import jax.numpy as jnp
    from jax import lax

    w = WORKLOADS[workload]
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 8))

    def glorot(shape, fan_in, fan_out):
        limit = (6 / (fan_in + fan_out)) ** 0.5
        return jax.random.uniform(next(keys), shape, jnp.float32, -limit, limit)

    if workload == "linreg":
        params = [glorot((1, 1), 1, 1), jnp.zeros(1)]
    elif workload == "mnist-mlp":
        params = [glorot((784, 128), 784, 128), jnp.zeros(128),
                  glorot((128, 10), 128, 10), jnp.zeros(10)]
    else:  # HWIO kernels, NHWC activations, as Keras
        params = [glorot((3, 3, 3, 32), 27, 288), jnp.zeros(32),
                  glorot((3, 3, 32, 16), 288, 144), jnp.zeros(16),
                  glorot((576, 10), 576, 10), jnp.zeros(10)]

    def conv_relu(x, k, b):
        y = lax.conv_general_dilated(x, k, (1, 1), "VALID",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jax.nn.relu(y + b)

    def pool(x):
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def forward(p, x):
        if workload == "linreg":
            return x @ p[0] + p[1]
        if workload == "mnist-mlp":
            h = jax.nn.relu(x @ p[0] + p[1])
            return jax.nn.softmax(h @ p[2] + p[3])
        h = pool(conv_relu(x, p[0], p[1]))
        h = pool(conv_relu(h, p[2], p[3]))
        return jax.nn.softmax(h.reshape(h.shape[0], -1) @ p[4] + p[5])

    def loss(p, x, y):
        pred = forward(p, x)
        if w["loss"] == "mse":
            return jnp.mean((pred - y) ** 2)
        # Keras on probabilities: renormalize, clip to [eps, 1-eps], -sum(y log p).
        pred = jnp.clip(pred / pred.sum(-1, keepdims=True), EPS, 1 - EPS)
        return jnp.mean(-jnp.sum(y * jnp.log(pred), -1))

    lr = w["lr"]
    if w["opt"] == "sgd":
        state = ()
    elif w["opt"] == "adam":  # momentum, velocity, iterations
        state = ([jnp.zeros_like(q) for q in params], [jnp.zeros_like(q) for q in params],
                 jnp.zeros((), jnp.float32))
    else:  # rmsprop velocity
        state = [jnp.zeros_like(q) for q in params]

    def update(params, state, grads):
        """Keras 3's update rules (keras/src/optimizers/{sgd,adam,rmsprop}.py)."""
        if w["opt"] == "sgd":
            return [q - lr * g for q, g in zip(params, grads)], state
        if w["opt"] == "adam":
            m, v, t = state
            t = t + 1
            alpha = lr * jnp.sqrt(1 - BETA_2**t) / (1 - BETA_1**t)
            m = [a + (g - a) * (1 - BETA_1) for a, g in zip(m, grads)]
            v = [b + (g * g - b) * (1 - BETA_2) for b, g in zip(v, grads)]
            params = [q - (a * alpha) / (jnp.sqrt(b) + EPS) for q, a, b in zip(params, m, v)]
            return params, (m, v, t)
        v = [RHO * b + (1 - RHO) * g * g for b, g in zip(state, grads)]
        params = [q - lr * g / jnp.sqrt(b + EPS) for q, g, b in zip(params, grads, v)]
        return params, v

    def train(params, state, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        params, state = update(params, state, grads)
        return params, state, value

    train = jax.jit(train, donate_argnums=(0, 1))
    x, y = (jnp.asarray(a) for a in synthetic(workload))
    carry = [params, state]

    def step():
        carry[0], carry[1], value = train(carry[0], carry[1], x, y)
        return jax.block_until_ready((carry, value))[1]

    return step


# ---------------------------------------------------------------- PyTorch


def torch_step(workload, threads, compiled):
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    w = WORKLOADS[workload]
    if workload == "linreg":
        model = nn.Linear(1, 1)
    elif workload == "mnist-mlp":
        model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10), nn.Softmax(-1))
    else:  # PyTorch's own NCHW layout
        model = nn.Sequential(
            nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(576, 10), nn.Softmax(-1))
    params = model.parameters()
    if w["opt"] == "sgd":
        opt = torch.optim.SGD(params, lr=w["lr"])
    elif w["opt"] == "adam":
        opt = torch.optim.Adam(params, lr=w["lr"], betas=(BETA_1, BETA_2), eps=EPS)
    else:
        opt = torch.optim.RMSprop(params, lr=w["lr"], alpha=RHO, eps=EPS)
    x, y = (torch.from_numpy(a) for a in synthetic(workload, channels_first=True))

    def loss_fn(pred):
        if w["loss"] == "mse":
            return torch.mean((pred - y) ** 2)
        pred = torch.clamp(pred / pred.sum(-1, keepdim=True), EPS, 1 - EPS)
        return torch.mean(-torch.sum(y * torch.log(pred), -1))

    def train():
        opt.zero_grad(set_to_none=True)
        value = loss_fn(model(x))
        value.backward()
        opt.step()
        return value.detach()

    return torch.compile(train) if compiled else train


# ---------------------------------------------------------------- child side


def child(peer, workload, threads, warmup, steps):
    """Measures one peer in this process; prints one JSON line."""
    try:
        if peer == "jax jit":
            step = jax_step(workload, threads)
        else:
            step = torch_step(workload, threads, peer == "torch.compile")
        first, median, loss_1, loss_n = time_steps(step, warmup, steps)
        out = dict(first_ms=first, median_ms=median, loss_first=loss_1, loss_last=loss_n)
    except Exception as e:  # reported as the row's note, not fatal
        out = dict(error=f"{type(e).__name__}: {str(e).strip().splitlines()[0][:100]}")
    out["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out), flush=True)


def run_child(peer, workload, threads, args):
    """Runs `child` in a subprocess with the thread setting applied from outside."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    cmd = [sys.executable, __file__, "--child", peer, workload, str(threads),
           "--warmup", str(args.warmup), "--steps", str(args.steps)]
    if peer == "jax jit" and threads == 1:
        # XLA's CPU client has no thread-count API: turn off Eigen's pool and pin to one core.
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                            " intra_op_parallelism_threads=1").strip()
        cmd = ["taskset", "-c", "0", *cmd]
    with tempfile.TemporaryDirectory() as cache:
        # A fresh Inductor cache, so torch.compile's first call is a cold compile.
        env["TORCHINDUCTOR_CACHE_DIR"] = cache
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return dict(error=f"exit {proc.returncode}: {tail[:100]}")
    return json.loads(lines[-1])


# ---------------------------------------------------------------- triceratops


def bench_once(cmd):
    """Runs one `triceratops bench`; returns (returncode, output, max RSS KiB).

    Popen + os.wait4 rather than run(): wait4 gives this one child's rusage."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out, usage.ru_maxrss


def run_triceratops(binary, workload, args):
    """Runs `triceratops bench`, returns (header line, {column: cells}, max RSS KiB).

    With a bench that takes --threads, passes the list (1,2); if it takes only
    one count, runs once per count and names the JIT columns `<col> x<t>`."""
    cmd = [binary, "bench", "--model", workload, "--batch-size", str(WORKLOADS[workload]["batch"]),
           "--steps", str(args.steps), "--warmup", str(args.warmup)]
    help_text = subprocess.run([binary, "bench", "--help"], capture_output=True, text=True).stdout
    if "--threads" not in help_text:
        rc, out, rss = bench_once(cmd)
        if rc != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{out}")
        return parse_bench(out) + (rss,)
    rc, out, rss = bench_once(cmd + ["--threads", ",".join(map(str, args.threads))])
    if rc == 0:
        return parse_bench(out) + (rss,)
    merged, rss = {}, 0
    for t in args.threads:
        rc, out, r = bench_once(cmd + ["--threads", str(t)])
        if rc != 0:
            raise SystemExit(f"{' '.join(cmd)} --threads {t} failed:\n{out}")
        header, table = parse_bench(out)
        rss = max(rss, r)
        for c, cells in table.items():
            if c == "interp":
                merged.setdefault(c, cells)
            else:
                merged[c if re.search(r"x\d+$", c) else f"{c} x{t}"] = cells
    return header, merged, rss


def parse_bench(text):
    """The bench table by its header row and row labels: {column: {label: cell}}."""
    lines = text.splitlines()
    header = next(l for l in lines if l.startswith("bench "))
    start = lines.index(header) + 1
    columns = re.split(r"\s{2,}", lines[start].strip())
    table = {c: {} for c in columns}
    for line in lines[start + 1:]:
        for label in ("compile (ms)", "step median (ms)", "peak memory"):
            if line.startswith(label):
                cells = re.split(r"\s{2,}", line[len(label):].strip())
                for c, cell in zip(columns, cells):
                    table[c][label] = cell
    return header, table


# ---------------------------------------------------------------- table


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def print_table(workload, header, rows, notes):
    cols = ["", "median ms/step", "compile/1st ms", "heap peak", "max RSS", "loss 1st -> last"]
    body = [cols] + rows
    widths = [max(len(r[i]) for r in body) for i in range(len(cols))]
    w = WORKLOADS[workload]
    print(f"\n== {workload}: batch {w['batch']}, {w['opt']} lr {w['lr']}, {w['loss']}")
    print(f"   triceratops: {header}")
    for r in body:
        print("  ".join([r[0].ljust(widths[0])] + [c.rjust(n) for c, n in zip(r[1:], widths[1:])]).rstrip())
    for note in notes:
        print(f"   note: {note}")


def installed(module):
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec('{module}') is None)"
    return subprocess.run([sys.executable, "-c", code]).returncode == 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--steps", type=int, default=20, help="timed steps (default 20, as bench)")
    p.add_argument("--warmup", type=int, default=3,
                   help="untimed steps, the first of which is the compile/1st-step call (default 3)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--triceratops", help="the binary (default: target/release/triceratops)")
    p.add_argument("--child", nargs=3, metavar=("PEER", "WORKLOAD", "THREADS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.warmup < 1 or args.steps < 1:
        p.error("--warmup and --steps must be at least 1")
    if args.child:
        peer, workload, threads = args.child
        return child(peer, workload, int(threads), args.warmup, args.steps)
    args.threads = [int(t) for t in args.threads.split(",")]
    workloads = args.workloads.split(",")
    for wl in workloads:
        if wl not in WORKLOADS:
            p.error(f"unknown workload {wl!r}; choose from {', '.join(WORKLOADS)}")
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = args.triceratops or str(target / "release" / "triceratops")
    if not Path(binary).exists():
        p.error(f"{binary} not found: run `cargo build --release` or pass --triceratops PATH")
    have = {m: installed(m) for m in set(IMPORTS.values())}

    for wl in workloads:
        header, table, rss = run_triceratops(binary, wl, args)
        rows = [[f"triceratops {c}", t.get("step median (ms)", "?"), t.get("compile (ms)", "?"),
                 t.get("peak memory", "?"), mib(rss), ""] for c, t in table.items()]
        notes = []
        for peer in PEERS:
            for t in args.threads:
                name = f"{peer} x{t}"
                if not have[IMPORTS[peer]]:
                    rows.append([name, "not installed", "", "", "", ""])
                    continue
                print(f"measuring {name} on {wl} ...", file=sys.stderr, flush=True)
                r = run_child(peer, wl, t, args)
                if "error" in r:
                    rows.append([name, "failed", "", "", "", ""])
                    notes.append(f"{name}: {r['error']}")
                else:
                    rows.append([name, f"{r['median_ms']:.3f}", f"{r['first_ms']:.1f}", "",
                                 mib(r["maxrss_kib"]),
                                 f"{r['loss_first']:.4g} -> {r['loss_last']:.4g}"])
        print_table(wl, header, rows, notes)


if __name__ == "__main__":
    main()

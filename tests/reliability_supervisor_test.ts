/** The supervision rules on fake workers (no threads, no onnxruntime): fast and exact. */
import assert from "node:assert/strict";
import type * as Comlink from "comlink";
import { UserError } from "../src/errors.ts";
import {
  FailureBudget,
  SupervisedPool,
  SUPERVISION_DEFAULTS,
  WorkerFailureError,
  type WorkerFailureEvent,
} from "../src/train/supervised_pool.ts";
import { type Spawned, WorkerCrashError } from "../src/train/spawn.ts";

interface FakeApi {
  init(raw: unknown): Promise<void>;
  step(n: number): Promise<number>;
  release(): Promise<void>;
}

/** Each spawn gets the next behaviour of `plan` (the last one repeats). */
function fakePool(
  plan: ("ok" | "throw" | "crash" | "hang" | "user")[],
  options: { maxRetries?: number; callTimeoutMs?: number } = {},
) {
  const events: WorkerFailureEvent[] = [];
  let spawns = 0;
  let terminated = 0;
  const pool = new SupervisedPool<FakeApi>({
    kind: "forward_worker",
    method: "forward",
    size: 1,
    spawn: <T>() => {
      const behaviour = plan[Math.min(spawns++, plan.length - 1)];
      let crash: (e: Error) => void = () => {};
      const crashed = new Promise<never>((_, reject) => (crash = reject));
      crashed.catch(() => {});
      const api: FakeApi = {
        init: () =>
          behaviour === "user"
            ? Promise.reject(Object.assign(new Error("bad.onnx: nope"), { name: "UserError" }))
            : Promise.resolve(),
        step: (n) => {
          switch (behaviour) {
            case "throw":
              return Promise.reject(new Error("boom"));
            case "crash":
              setTimeout(() => crash(new WorkerCrashError("Uncaught Error: died")), 1);
              return new Promise(() => {});
            case "hang":
              return new Promise(() => {});
            default:
              return Promise.resolve(2 * n);
          }
        },
        release: () => Promise.resolve(),
      };
      return {
        api: api as unknown as Comlink.Remote<T>,
        terminate: () => terminated++,
        crashed,
      } satisfies Spawned<T>;
    },
    initArgs: () => ({}),
    supervision: { maxRetries: options.maxRetries ?? 3, callTimeoutMs: options.callTimeoutMs },
    onFailure: (e) => events.push(e),
  });
  const step = (n: number) =>
    pool.call(0, new FailureBudget(n, `step ${n}`), "step", (api) => api.step(n), Number);
  return { pool, events, step, spawns: () => spawns, terminated: () => terminated };
}

Deno.test("a failing worker is replaced until the call succeeds, each failure logged", async () => {
  const f = fakePool(["throw", "crash", "hang", "ok"], { callTimeoutMs: 30 });
  assert.equal(await f.step(21), 42);
  assert.deepEqual(f.events.map((e) => [e.kind, e.attempt, e.action, e.step]), [
    ["error", 1, "restarted", 21],
    ["crash", 2, "restarted", 21],
    ["timeout", 3, "restarted", 21],
  ]);
  assert.match(f.events[0].reason, /^threw: boom$/);
  assert.match(f.events[1].reason, /^crashed: Uncaught Error: died$/);
  assert.match(f.events[2].reason, /^gave no answer within 30 ms$/);
  assert.equal(f.spawns(), 4);
  assert.equal(f.terminated(), 3);
  await f.pool.close();
});

Deno.test("one failure more than --max-retries stops with a WorkerFailureError", async () => {
  const f = fakePool(["throw"], { maxRetries: 1 });
  const e = await f.step(5).then(() => null, (e) => e);
  assert.ok(e instanceof WorkerFailureError);
  assert.equal(e.exitCode, 1);
  assert.match(
    e.message,
    /^step 5 failed 2 times \(last: forward worker 0 threw: boom\); stopped after 1 retry/,
  );
  assert.deepEqual(f.events.map((e) => e.action), ["restarted", "stopped"]);
  await f.pool.close();
});

Deno.test("a worker's UserError is bad input: thrown at once, never retried", async () => {
  const f = fakePool(["user"]);
  await assert.rejects(
    () => f.step(0),
    (e) => e instanceof UserError && /bad\.onnx/.test(e.message),
  );
  assert.equal(f.spawns(), 1);
  assert.equal(f.events.length, 0);
  await f.pool.close();
});

Deno.test("the timeout adapts to the median call: max(30 s, 20 × median), generous before any", async () => {
  const f = fakePool(["ok"]);
  const d = SUPERVISION_DEFAULTS;
  assert.equal(f.pool.timeoutMs("step"), d.firstCallTimeoutMs);
  assert.equal(f.pool.timeoutMs("init"), d.initTimeoutMs);
  await f.step(1);
  assert.equal(f.pool.timeoutMs("step"), d.minTimeoutMs, "fast calls keep the 30 s floor");
  const fixed = fakePool(["ok"], { callTimeoutMs: 1500 });
  assert.equal(fixed.pool.timeoutMs("step"), 1500);
  assert.equal(fixed.pool.timeoutMs("evaluate"), 1500);
  await f.pool.close();
  await fixed.pool.close();
});

Deno.test("closing the pool ends a call stuck on a silent worker at once, leaving no timer", async () => {
  const f = fakePool(["hang"]);
  const pending = f.step(3).then(() => "answered", (e) => e.name);
  await new Promise((r) => setTimeout(r, 10));
  await f.pool.close();
  assert.equal(await pending, "PoolClosedError");
  assert.equal(f.events.length, 0, "closing is not a worker failure");
});

import type { TargetData } from "../experiments/time_to_target.ts";
import type { ResultFile } from "../lib/output.ts";
import { fmt } from "../lib/stats.ts";
import { img, pct, provenance, table } from "./common.ts";

export function renderTimeToTarget(r: ResultFile<TargetData>): string {
  const out: string[] = [`## 5. Time to target\n`, provenance(r)];
  out.push(
    "The real coordinator (`runMethod`, what `deno task train` runs) from the same initial weights " +
      "and data order; plain SGD, constant learning rate, batch 64. Stopping rule: training loss " +
      "smoothed over the last epoch (or 50 steps) below the target; otherwise the run stops at the " +
      "time cap (training seconds, evaluations excluded). KMNIST is the study's re-split of the " +
      "official 10k test images (500 train / 100 test), so accuracies are not comparable with " +
      "published KMNIST results. The forward K = 4 runs use the rate the K = 1 sweep chose.\n",
  );
  out.push(table(
    [
      "model",
      "target",
      "cap (s)",
      "variant",
      "lr",
      "reached",
      "seconds to target",
      "steps to target",
      "steps/s",
      "final train loss",
      "test accuracy",
    ],
    r.data.models.flatMap((m) =>
      m.variants.map((v) => [
        `${m.model} (${m.dataset}, n = ${m.parameters.toLocaleString("en-US")})`,
        m.plan.target,
        m.plan.maxSeconds,
        v.label,
        v.lr.toPrecision(2),
        v.diverged ? "diverged" : v.reachedTarget ? "yes" : "no",
        v.secondsToTarget === null
          ? `— (${v.wallSeconds.toFixed(1)} s run)`
          : v.secondsToTarget.toFixed(2),
        v.stepsToTarget === null ? `— (${v.steps} steps)` : v.stepsToTarget,
        v.stepsPerSecond.toFixed(1),
        fmt(v.finalTrainLoss, 3),
        pct(v.testAccuracy),
      ])
    ),
  ));
  out.push(
    "\nLearning-rate sweep (each rate run for the sweep cap at K = 1, W = 1; the chosen rate reached the target soonest, else had the lowest final training loss):\n",
  );
  out.push(table(
    ["model", "method", "sweep cap (s)", "rate → final train loss (reached target?)", "chosen"],
    r.data.models.flatMap((m) =>
      (["backprop", "forward"] as const).map((method) => [
        m.model,
        method,
        m.plan.sweepSeconds,
        m.sweep.filter((e) => e.method === method).map((e) =>
          `${e.lr.toPrecision(2)} → ${
            e.diverged
              ? "diverged"
              : `${fmt(e.finalTrainLoss, 3)}${
                e.reachedTarget ? ` (yes, ${e.secondsToTarget!.toFixed(1)} s)` : ""
              }`
          }`
        ).join("; "),
        m.chosen[method].toPrecision(2),
      ])
    ),
  ));
  out.push("");
  for (const m of r.data.models) {
    out.push(img(`time_to_target_${m.model}.svg`, `training loss vs time, ${m.model}`));
  }
  return out.join("\n") + "\n";
}

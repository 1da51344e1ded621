import type { Graph } from "./types.ts";

/**
 * Deterministic fresh names: `base`, then `base_1`, `base_2`, ... skipping names already
 * used anywhere in the graph, so two transforms of the same graph give identical bytes.
 */
export class NameGen {
  #used = new Set<string>();
  #next = new Map<string, number>();

  constructor(graph?: Graph) {
    if (!graph) return;
    for (const v of [...graph.inputs, ...graph.outputs]) this.#used.add(v.name);
    for (const name of graph.initializers.keys()) this.#used.add(name);
    for (const n of graph.nodes) {
      this.#used.add(n.name);
      for (const x of [...n.inputs, ...n.outputs]) this.#used.add(x);
    }
  }

  /** Marks a name as taken (for names chosen by contract, such as `w__tangent`). */
  reserve(name: string): void {
    this.#used.add(name);
  }

  fresh(base: string): string {
    if (!this.#used.has(base)) {
      this.#used.add(base);
      return base;
    }
    let i = this.#next.get(base) ?? 1;
    while (this.#used.has(`${base}_${i}`)) i++;
    this.#next.set(base, i + 1);
    const name = `${base}_${i}`;
    this.#used.add(name);
    return name;
  }
}

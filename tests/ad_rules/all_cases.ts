// Every rule family's gradient-check cases; each family adds one line here.
import { binaryCases } from "./binary_cases.ts";
import type { RuleCase } from "./case.ts";
import { elementwiseCases } from "./elementwise_cases.ts";
import { reduceCases } from "./reduce_cases.ts";

export const ALL_CASES: RuleCase[] = [
  ...elementwiseCases,
  ...binaryCases,
  ...reduceCases,
];

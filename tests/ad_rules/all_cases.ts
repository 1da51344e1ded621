// Every rule family's gradient-check cases; each family adds one line here.
import { binaryCases } from "./binary_cases.ts";
import type { RuleCase } from "./case.ts";
import { convCases } from "./conv_cases.ts";
import { elementwiseCases } from "./elementwise_cases.ts";
import { lossCases } from "./loss_cases.ts";
import { matmulCases } from "./matmul_cases.ts";
import { normalizationCases } from "./normalization_cases.ts";
import { poolCases } from "./pool_cases.ts";
import { reduceCases } from "./reduce_cases.ts";
import { shapeCases } from "./shape_cases.ts";

export const ALL_CASES: RuleCase[] = [
  ...elementwiseCases,
  ...binaryCases,
  ...reduceCases,
  ...shapeCases,
  ...normalizationCases,
  ...lossCases,
  ...matmulCases,
  ...convCases,
  ...poolCases,
];

/**
 * The one rule table, keyed by ONNX op type, assembled from the rule families in `rules/`,
 * and the lookup that turns a missing rule into an error naming the op and the node.
 *
 * @module
 */

import { UserError } from "../errors.ts";
import type { Node } from "../onnx/types.ts";
import type { Rule } from "./rule.ts";
import { binaryRules } from "./rules/binary.ts";
import { convRules } from "./rules/conv.ts";
import { elementwiseRules } from "./rules/elementwise.ts";
import { matmulRules } from "./rules/matmul.ts";
import { lossRules } from "./rules/loss.ts";
import { normalizationRules } from "./rules/normalization.ts";
import { gatherScatterRules } from "./rules/gather_scatter.ts";
import { layoutRules } from "./rules/layout.ts";
import { poolingRules } from "./rules/pooling.ts";
import { reduceRules } from "./rules/reduce.ts";
import { shapeValueRules } from "./rules/shape_values.ts";
import { slicingRules } from "./rules/slicing.ts";

/** The one table of per-operator rules, keyed by ONNX op type. */
export const RULES: Record<string, Rule> = {
  ...elementwiseRules,
  ...binaryRules,
  ...shapeValueRules,
  ...layoutRules,
  ...slicingRules,
  ...gatherScatterRules,
  ...reduceRules,
  ...matmulRules,
  ...convRules,
  ...poolingRules,
  ...normalizationRules,
  ...lossRules,
};

export function ruleFor(opType: string): Rule | undefined {
  return Object.hasOwn(RULES, opType) ? RULES[opType] : undefined;
}

/** The rule for a node of the default domain, or a UserError naming the op and the node. */
export function lookupRule(node: Node): Rule {
  const rule = node.domain === "" || node.domain === "ai.onnx" ? ruleFor(node.opType) : undefined;
  if (!rule) {
    const dom = node.domain ? ` (domain ${node.domain})` : "";
    throw new UserError(
      `${node.opType}${dom} node "${node.name}": op ${node.opType} is not supported by fwdgrad's differentiation rules`,
    );
  }
  return rule;
}

/**
 * The shape-value family: ops whose outputs are constants or shapes, not functions of the
 * differentiated values (Constant, Shape, ConstantOfShape, Size). Their derivative is zero;
 * their shape inference keeps the values known (symbolically where dims are symbolic), which
 * is what lets the layout and slicing rules read runtime-computed shapes statically.
 *
 * @module
 */

import { int64Tensor, scalarTensor, tensorNumbers } from "../../onnx/tensor.ts";
import type { Node, Tensor } from "../../onnx/types.ts";
import { numbers, size, toFloat64 } from "../host/ndarray.ts";
import { remap } from "../host/movement.ts";
import { attrs, defineRule, type Rule, unsupported, z } from "../rule.ts";
import { isStatic } from "../shapes.ts";
import { zeroValue } from "./shape_emit.ts";
import { intsMeta, shapeDims } from "./shape_tracking.ts";

const constantAttrs = attrs({
  value: z.custom<Tensor>().optional(),
  value_float: z.number().optional(),
  value_floats: z.array(z.number()).optional(),
  value_int: z.number().optional(),
  value_ints: z.array(z.number()).optional(),
  value_string: z.unknown().optional(),
  value_strings: z.unknown().optional(),
  sparse_value: z.unknown().optional(),
});

function constantValue(node: Node, a: z.infer<typeof constantAttrs>): Tensor {
  if (a.value) return a.value;
  if (a.value_float !== undefined) return scalarTensor(a.value_float);
  if (a.value_floats) {
    return {
      dtype: "float32",
      dims: [a.value_floats.length],
      data: Float32Array.from(a.value_floats),
    };
  }
  if (a.value_int !== undefined) return int64Tensor([], [a.value_int]);
  if (a.value_ints) return int64Tensor([a.value_ints.length], a.value_ints);
  const given = Object.keys(node.attrs)[0] ?? "value";
  throw unsupported(node, given, "is not supported (string and sparse constants are not)");
}

/** The shape-value family's table entries. */
export const shapeValueRules: Record<string, Rule> = {
  Constant: defineRule(constantAttrs, {
    infer: ({ node, attrs }) => {
      const t = constantValue(node, attrs);
      return [{ dtype: t.dtype, shape: [...t.dims], value: t }];
    },
    evaluate: ({ node, attrs }) => [toFloat64(constantValue(node, attrs))],
    zeroDerivative: true,
  }),

  Shape: defineRule(attrs({ start: z.number().optional(), end: z.number().optional() }), {
    // start/end (opset 15) index like Python slices: negative from the back, clamped.
    infer: ({ inputs, attrs }) => {
      const s = inputs[0]?.shape;
      if (!s) return [{ dtype: "int64", shape: [`rank`] }];
      const d = s.slice(attrs.start ?? 0, attrs.end ?? s.length);
      return [intsMeta([d.length], d)];
    },
    evaluate: ({ inputs, attrs }) => {
      const s = inputs[0]!.dims;
      const d = s.slice(attrs.start ?? 0, attrs.end ?? s.length);
      return [int64Tensor([d.length], d)];
    },
    zeroDerivative: true,
  }),

  ConstantOfShape: defineRule(attrs({ value: z.custom<Tensor>().optional() }), {
    infer: ({ inputs, attrs }) => {
      const dtype = attrs.value?.dtype ?? "float32";
      const shape = shapeDims(inputs[0]);
      // Small int fills stay known constants (PyTorch's shape arithmetic builds some).
      if (dtype === "int64" && shape && isStatic(shape) && size(shape) <= 64) {
        const v = attrs.value ? tensorNumbers(attrs.value)[0] : 0;
        return [{ dtype, shape, value: int64Tensor(shape, Array(size(shape)).fill(v)) }];
      }
      return [{ dtype, shape }];
    },
    evaluate: ({ inputs, attrs }) => {
      const dims = numbers(inputs[0]!);
      const value = toFloat64(attrs.value ?? zeroValue("float64"));
      return [remap(value, dims, () => 0)];
    },
    zeroDerivative: true,
  }),

  Size: defineRule(attrs({}), {
    infer: () => [{ dtype: "int64", shape: [] }],
    evaluate: (
      { inputs },
    ) => [{ dtype: "int64", dims: [], data: BigInt64Array.of(BigInt(inputs[0]!.data.length)) }],
    zeroDerivative: true,
  }),
};

#version 450
// Runtime smoke test (not an op):
//   y[yoff + i] = x[xoff + i] * scalars[slot] * MUL + add.
// Exercises everything the dispatch contract promises: a specialization
// constant (MUL, so pipelines differing only in it are distinct cache
// entries), push constants with word offsets, two storage buffers at set 0,
// the scalar slots at set 1 and 1-D folding into y.
//
// The local size is declared BEFORE including common.glsl on purpose:
// glslang evaluates gl_WorkGroupSize where sr_global_index() is compiled,
// and before the layout declaration it silently folds it to 1, which
// breaks every launch folded into y.
layout(local_size_x = 64) in;
layout(constant_id = 0) const float MUL = 1.0;

#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint n;
    uint xoff;
    uint yoff;
    int slot;   // scalar slot holding the multiplier
    float add;
} p;

void main()
{
    uint i = sr_global_index();
    if (i >= p.n) return;
    y[p.yoff + i] = x[p.xoff + i] * sr_scalar_f(p.slot) * MUL + p.add;
}

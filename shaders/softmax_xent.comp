// Softmax cross-entropy, one workgroup per row (rows folded over x and y):
// dlogits = (softmax - onehot) / n and the row's loss (label smoothing eps:
// see the second branch)
// log(sum exp(l - max)) - (l[label] - max) to row_loss[row]; the batch mean
// is taken by reduce_final so the sum has a fixed tree order.
// An out-of-range label yields a NaN loss (so the trainer's finite check
// catches corrupt labels) and no one-hot term.
#version 450
#define SR_RED_LOCAL 64
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = SR_RED_LOCAL) in;

#include "common.glsl"
#include "reduce_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer L { float logits[]; };
layout(std430, set = 0, binding = 1) readonly buffer Lab { uint labels[]; };
layout(std430, set = 0, binding = 2) writeonly buffer D { float dlogits[]; };
layout(std430, set = 0, binding = 3) writeonly buffer R { float row_loss[]; };

layout(push_constant) uniform Push {
    uint n, classes;
    uint logits_off, labels_off, dlogits_off, row_off;
    float inv_n;
    float smoothing;   // eps: target (1 - eps) onehot + eps / classes
} pc;

void main()
{
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= pc.n)
        return;  // whole workgroup leaves: control flow stays uniform
    uint t = gl_LocalInvocationIndex;
    uint base = pc.logits_off + row * pc.classes;

    float m = -1.0 / 0.0;
    for (uint j = t; j < pc.classes; j += SR_RED_LOCAL)
        m = max(m, logits[base + j]);
    m = sr_wg_max(m);

    float s = 0.0;
    for (uint j = t; j < pc.classes; j += SR_RED_LOCAL)
        s += exp(logits[base + j] - m);
    s = sr_wg_sum(s);

    uint label = labels[pc.labels_off + row];
    float inv_s = 1.0 / s;
    uint dbase = pc.dlogits_off + row * pc.classes;
    float nan = uintBitsToFloat(0x7fc00000u);
    if (pc.smoothing == 0.0) {
        for (uint j = t; j < pc.classes; j += SR_RED_LOCAL) {
            float pj = exp(logits[base + j] - m) * inv_s;
            dlogits[dbase + j] = (pj - (j == label ? 1.0 : 0.0)) * pc.inv_n;
        }
        if (t == 0u)
            row_loss[pc.row_off + row] = label < pc.classes
                ? log(s) - (logits[base + label] - m) : nan;
        return;
    }
    // a uniform branch (push constant): the workgroup sum below is safe
    float eps = pc.smoothing, off = eps / float(pc.classes);
    float shifted = 0.0;
    for (uint j = t; j < pc.classes; j += SR_RED_LOCAL)
        shifted += logits[base + j] - m;
    shifted = sr_wg_sum(shifted);
    for (uint j = t; j < pc.classes; j += SR_RED_LOCAL) {
        float pj = exp(logits[base + j] - m) * inv_s;
        dlogits[dbase + j] = (pj - (j == label ? 1.0 - eps + off : off)) * pc.inv_n;
    }
    if (t == 0u)
        row_loss[pc.row_off + row] = label < pc.classes
            ? log(s) - (1.0 - eps) * (logits[base + label] - m) - off * shifted
            : nan;
}

// SGD with momentum and weight decay, PyTorch's form:
// v = momentum v + (g + wd w); w -= lr v. lr comes from a scalar slot so a
// recorded program follows the schedule without re-recording.
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"

layout(std430, set = 0, binding = 0) buffer W { float w[]; };
layout(std430, set = 0, binding = 1) readonly buffer G { float g[]; };
layout(std430, set = 0, binding = 2) buffer V { float v[]; };

layout(push_constant) uniform Push {
    uint n;
    uint w_off;
    uint g_off;
    uint v_off;
    float momentum;
    float weight_decay;
    uint lr_slot;
} pc;

void main()
{
    uint i = sr_global_index();
    if (i >= pc.n)
        return;
    float lr = sr_scalar_f(int(pc.lr_slot));
    float wi = w[pc.w_off + i];
    float vi = pc.momentum * v[pc.v_off + i] + (g[pc.g_off + i] + pc.weight_decay * wi);
    v[pc.v_off + i] = vi;
    w[pc.w_off + i] = wi - lr * vi;
}

// SGD with momentum and weight decay, PyTorch's form:
// d = s g + wd w; v = momentum v + d; w -= lr v (nesterov: w -= lr (d +
// momentum v)). lr and the gradient scale s (clipping; slot 0: none) come
// from scalar slots so a recorded program follows them without re-recording.
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
    uint nesterov;
    uint grad_scale_slot;
} pc;

void main()
{
    uint i = sr_global_index();
    if (i >= pc.n)
        return;
    float lr = sr_scalar_f(int(pc.lr_slot));
    float wi = w[pc.w_off + i];
    float gi = g[pc.g_off + i];
    if (pc.grad_scale_slot != 0u)
        gi *= sr_scalar_f(int(pc.grad_scale_slot));
    float di = gi + pc.weight_decay * wi;
    float vi = pc.momentum * v[pc.v_off + i] + di;
    v[pc.v_off + i] = vi;
    w[pc.w_off + i] = wi - lr * (pc.nesterov != 0u ? di + pc.momentum * vi : vi);
}

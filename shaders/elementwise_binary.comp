// Elementwise y = f(a, b): add and add + ReLU (y may alias a), and the masked backward
// passes of relu, k-bit activations and WRPN weights.
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"

#define OP_ADD 0u
#define OP_RELU_BWD 1u   // a = y, b = dy
#define OP_ACTQ_BWD 2u   // a = x, b = dy
#define OP_WRPN_BWD 3u   // a = w, b = dwq
#define OP_ADD_RELU 4u
layout(constant_id = 0) const uint OP = 0u;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint n;
    uint a_off;
    uint b_off;
    uint y_off;
} pc;

void main()
{
    uint i = sr_global_index();
    if (i >= pc.n)
        return;
    float va = a[pc.a_off + i];
    float vb = b[pc.b_off + i];
    float r;
    if (OP == OP_ADD)
        r = va + vb;
    else if (OP == OP_RELU_BWD)
        r = va > 0.0 ? vb : 0.0;
    else if (OP == OP_ACTQ_BWD)
        r = (va >= 0.0 && va <= 1.0) ? vb : 0.0;
    else if (OP == OP_ADD_RELU)
        r = max(va + vb, 0.0);
    else
        r = abs(va) <= 1.0 ? vb : 0.0;
    y[pc.y_off + i] = r;
}

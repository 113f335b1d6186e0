// Elementwise y = f(x) over n words: fill, copy, relu, k-bit activation
// quantization, WRPN weight quantization, inverted dropout (forward and
// backward are the same map: the mask is regenerated from the RNG).
// Words are moved as uint so copy is bit-exact for uint tensors too.
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"

#define OP_FILL 0u
#define OP_COPY 1u
#define OP_RELU 2u
#define OP_ACTQ 3u
#define OP_WRPN 4u
#define OP_DROPOUT 5u
layout(constant_id = 0) const uint OP = 0u;

layout(std430, set = 0, binding = 0) readonly buffer Src { uint x[]; };
layout(std430, set = 0, binding = 1) buffer Dst { uint y[]; };

layout(push_constant) uniform Push {
    uint n;
    uint x_off;
    uint y_off;
    uint bits;      // actq, wrpn
    uint seed;      // dropout
    uint stream;
    uint step_slot;
    float p;        // dropout probability; fill: value
    float scale;    // dropout: 1 / (1 - p)
    uint i0;        // dropout: index of element 0 in the whole tensor
                    // (ops over big tensors run in pieces)
} pc;

void main()
{
    uint i = sr_global_index();
    if (i >= pc.n)
        return;
    if (OP == OP_FILL) {
        y[pc.y_off + i] = floatBitsToUint(pc.p);
        return;
    }
    if (OP == OP_COPY) {
        y[pc.y_off + i] = x[pc.x_off + i];
        return;
    }
    float v = uintBitsToFloat(x[pc.x_off + i]);
    float r;
    if (OP == OP_RELU) {
        r = v > 0.0 ? v : 0.0;  // NaN -> 0, as the C ternary
    } else if (OP == OP_ACTQ) {
        r = sr_quantize01(v, int(pc.bits));
    } else if (OP == OP_WRPN) {
        float m = float((1u << (pc.bits - 1u)) - 1u);
        r = sr_round(clamp(v, -1.0, 1.0) * m) / m;
    } else {
        uint key = sr_rng_key(pc.seed, pc.stream, scalars[pc.step_slot]);
        r = sr_rng_uniform(key, pc.i0 + i) >= pc.p ? v * pc.scale : 0.0;
    }
    y[pc.y_off + i] = floatBitsToUint(r);
}

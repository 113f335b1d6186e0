// Batch-norm backward data (training mode), given dgamma = sum dy xhat
// and dbeta = sum dy from bn_stats_final:
// dx = gamma invstd (dy - dbeta / L - xhat dgamma / L).
#version 450
// Before the includes: sr_global_index() reads gl_WorkGroupSize.
layout(local_size_x = 256) in;

#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 2) readonly buffer G { float gamma[]; };
layout(std430, set = 0, binding = 3) readonly buffer M { float mean[]; };
layout(std430, set = 0, binding = 4) readonly buffer I { float invstd[]; };
layout(std430, set = 0, binding = 5) readonly buffer DG { float dgamma[]; };
layout(std430, set = 0, binding = 6) readonly buffer DB { float dbeta[]; };
layout(std430, set = 0, binding = 7) writeonly buffer DX { float dx[]; };

layout(push_constant) uniform Push {
    uint planes, c, hw;  // planes = n * c
    uint x_off, dy_off, g_off, m_off, i_off, dg_off, db_off, dx_off;
    float inv_l;
} pc;

// Workgroups (x: hw, y: planes) as bn_fwd_apply: no division per element.
void main()
{
    for (uint pl = gl_WorkGroupID.y; pl < pc.planes; pl += gl_NumWorkGroups.y) {
        uint c = pl % pc.c;
        float mu = mean[pc.m_off + c];
        float is = invstd[pc.i_off + c];
        float gi = gamma[pc.g_off + c] * is;
        float db = dbeta[pc.db_off + c] * pc.inv_l;
        float dg = dgamma[pc.dg_off + c] * pc.inv_l;
        for (uint k = gl_GlobalInvocationID.x; k < pc.hw;
             k += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
            uint i = pl * pc.hw + k;
            float xhat = (x[pc.x_off + i] - mu) * is;
            dx[pc.dx_off + i] = gi * (dy[pc.dy_off + i] - db - xhat * dg);
        }
    }
}

// Helpers for the weight quantizer shaders.
#ifndef SR_QUANT_COMMON_GLSL
#define SR_QUANT_COMMON_GLSL

// tanh accurate to a few ulp everywhere. The driver's tanh may be lowered
// to (e^2x - 1) / (e^2x + 1), which overflows to NaN for large |x| and
// loses all relative precision near 0 -- and DoReFa's levels depend on
// tanh(w) / max|tanh(w)| of small weights. Below 1: the [7/6] Pade
// approximant (Lambert's continued fraction, error < 3e-12); above:
// 1 - 2 / (e^2|x| + 1), no cancellation there; past 10 it is 1 in float.
float sr_tanh(float x)
{
    float a = abs(x);
    float r;
    if (a < 1.0) {
        float x2 = a * a;
        float num = 135135.0 + x2 * (17325.0 + x2 * (378.0 + x2));
        float den = 135135.0 + x2 * (62370.0 + x2 * (3150.0 + x2 * 28.0));
        r = a * num / den;
    } else {
        r = 1.0 - 2.0 / (exp(2.0 * min(a, 10.0)) + 1.0);
    }
    return x < 0.0 ? -r : r;
}

#endif

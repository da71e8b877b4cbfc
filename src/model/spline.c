/* Inverse rational-quadratic spline with linear tails (transforms.py,
 * unconstrained_rational_quadratic_spline with inverse=True), one element. */
#include <math.h>

#include "model/layers.h"

#define MIN_BIN_WIDTH 1e-3f
#define MIN_BIN_HEIGHT 1e-3f
#define MIN_DERIVATIVE 1e-3f

static float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

/* softmax -> minimum size -> cumulative edges on [-tail, tail]. */
static void edges(const float *u, float scale, int bins, float tail, float min_size, float *cum) {
    float mx = -INFINITY, e[64], sum = 0.0f;
    for (int b = 0; b < bins; b++) if (u[b] * scale > mx) mx = u[b] * scale;
    for (int b = 0; b < bins; b++) sum += (e[b] = expf(u[b] * scale - mx));
    float acc = 0.0f;
    cum[0] = -tail;
    for (int b = 0; b < bins; b++) {
        acc += min_size + (1.0f - min_size * (float)bins) * (e[b] / sum);
        cum[b + 1] = 2.0f * tail * acc - tail;
    }
    cum[bins] = tail;
}

float rq_spline_inverse(float x, const float *uw, const float *uh, const float *ud, int bins, float tail,
                        float inv_sqrt_filter) {
    if (!(x >= -tail && x <= tail)) return x; /* linear tails: identity */
    float cw[65], ch[65], der[65];
    edges(uw, inv_sqrt_filter, bins, tail, MIN_BIN_WIDTH, cw);
    edges(uh, inv_sqrt_filter, bins, tail, MIN_BIN_HEIGHT, ch);
    /* padded derivatives: the ends are constant so that they equal 1 */
    const float end = (float)log(exp(1.0 - (double)MIN_DERIVATIVE) - 1.0);
    der[0] = MIN_DERIVATIVE + softplus(end);
    der[bins] = der[0];
    for (int b = 1; b < bins; b++) der[b] = MIN_DERIVATIVE + softplus(ud[b - 1]);
    /* searchsorted over the height edges, the last one nudged by eps */
    int bin = -1;
    for (int b = 0; b <= bins; b++) {
        float edge = b == bins ? ch[b] + 1e-6f : ch[b];
        if (x >= edge) bin++;
    }
    if (bin < 0) bin = 0;
    if (bin > bins - 1) bin = bins - 1;
    const float in_cw = cw[bin], in_w = cw[bin + 1] - cw[bin];
    const float in_ch = ch[bin], in_h = ch[bin + 1] - ch[bin];
    const float delta = in_h / in_w;
    const float d0 = der[bin], d1 = der[bin + 1];
    const float dy = x - in_ch;
    const float a = dy * (d0 + d1 - 2.0f * delta) + in_h * (delta - d0);
    const float b = in_h * d0 - dy * (d0 + d1 - 2.0f * delta);
    const float c = -delta * dy;
    float disc = b * b - 4.0f * a * c;
    if (disc < 0.0f) disc = 0.0f;
    const float root = (2.0f * c) / (-b - sqrtf(disc));
    return root * in_w + in_cw;
}

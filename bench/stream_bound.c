/* The memory-bound limit of depthwise-audio on this machine: the bare loop
 * that any depthwise dilated convolution must at least run, with none of a
 * library's checks, padding or tiling.  It reads the input once and writes
 * a fresh output once (8 x 64 rows of 16000 float32, 3 taps 8 apart, valid
 * padding) on OMP_NUM_THREADS threads and prints the median of 41 calls.
 *
 *   gcc -O3 -march=native -fopenmp bench/stream_bound.c -o stream_bound
 *   OMP_NUM_THREADS=2 ./stream_bound
 *
 * fastdilate's depthwise-audio time in `fastdilate bench` compares with it
 * (BENCHMARKS.md). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

enum { ROWS = 8 * 64, LENGTH = 16000, DILATION = 8, OUT = LENGTH - 2 * DILATION, CALLS = 41 };

static int by_value(const void* a, const void* b) {
    double x = *(const double*) a, y = *(const double*) b;
    return (x > y) - (x < y);
}

int main(void) {
    float* x = malloc(sizeof(float) * ROWS * LENGTH);
    float w[ROWS][3];
    double seconds[CALLS];
    for (long i = 0; i < (long) ROWS * LENGTH; i++) x[i] = (float) (i % 7);
    for (int r = 0; r < ROWS; r++)
        for (int k = 0; k < 3; k++) w[r][k] = 0.1f * (float) (k + 1);
    for (int call = 0; call < CALLS; call++) {
        double start = omp_get_wtime();
        float* y = malloc(sizeof(float) * ROWS * OUT);  /* a new output, as a library returns */
#pragma omp parallel for schedule(static)
        for (int r = 0; r < ROWS; r++) {
            const float* in = x + (long) r * LENGTH;
            float* out = y + (long) r * OUT;
#pragma omp simd
            for (int t = 0; t < OUT; t++)
                out[t] = w[r][0] * in[t] + w[r][1] * in[t + DILATION] + w[r][2] * in[t + 2 * DILATION];
        }
        seconds[call] = omp_get_wtime() - start;
        if (y[OUT / 2] < 0) puts("");  /* keep the result live */
        free(y);
    }
    qsort(seconds, CALLS, sizeof seconds[0], by_value);
    double bytes = sizeof(float) * (double) ROWS * (LENGTH + OUT);
    printf("%d threads: median %.3f ms (input + output at %.1f GB/s), best %.3f ms\n",
           omp_get_max_threads(), seconds[CALLS / 2] * 1e3, bytes / seconds[CALLS / 2] / 1e9,
           seconds[0] * 1e3);
    free(x);
    return 0;
}

// matmul multiplies two n x n matrices: on the GPU when built with nvcc,
// on the CPU (the same computation, the fallback) when built as C++
// (c++ -x c++). Entries are small integers, so every product and sum is
// exact in float on both, and the checksum (the sum of the product's
// entries) is the same number wherever it runs.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#ifdef __CUDACC__
#include <cuda_runtime.h>

#define TILE 16

static const char *device = "gpu";

__global__ void matmul_kernel(const float *a, const float *b, float *c, int n) {
    __shared__ float ta[TILE][TILE];
    __shared__ float tb[TILE][TILE];
    int row = blockIdx.y * TILE + threadIdx.y;
    int col = blockIdx.x * TILE + threadIdx.x;
    float sum = 0.0f;
    for (int t = 0; t < (n + TILE - 1) / TILE; t++) {
        int ac = t * TILE + threadIdx.x;
        int br = t * TILE + threadIdx.y;
        ta[threadIdx.y][threadIdx.x] = (row < n && ac < n) ? a[row * n + ac] : 0.0f;
        tb[threadIdx.y][threadIdx.x] = (br < n && col < n) ? b[br * n + col] : 0.0f;
        __syncthreads();
        for (int k = 0; k < TILE; k++) {
            sum += ta[threadIdx.y][k] * tb[k][threadIdx.x];
        }
        __syncthreads();
    }
    if (row < n && col < n) {
        c[row * n + col] = sum;
    }
}

static void check(cudaError_t err, const char *what) {
    if (err != cudaSuccess) {
        fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(err));
        exit(1);
    }
}

static void multiply(const float *a, const float *b, float *c, int n) {
    size_t bytes = (size_t)n * n * sizeof(float);
    float *da, *db, *dc;
    check(cudaMalloc(&da, bytes), "cudaMalloc a");
    check(cudaMalloc(&db, bytes), "cudaMalloc b");
    check(cudaMalloc(&dc, bytes), "cudaMalloc c");
    check(cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice), "copy a");
    check(cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice), "copy b");
    dim3 threads(TILE, TILE);
    dim3 grid((n + TILE - 1) / TILE, (n + TILE - 1) / TILE);
    matmul_kernel<<<grid, threads>>>(da, db, dc, n);
    check(cudaGetLastError(), "launch");
    check(cudaMemcpy(c, dc, bytes, cudaMemcpyDeviceToHost), "copy c");
    cudaFree(da);
    cudaFree(db);
    cudaFree(dc);
}
#else
static const char *device = "cpu";

// multiply is the kernel's computation on the CPU, i-k-j for the cache.
static void multiply(const float *a, const float *b, float *c, int n) {
    for (int i = 0; i < n * n; i++) {
        c[i] = 0.0f;
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < n; k++) {
            float aik = a[i * n + k];
            for (int j = 0; j < n; j++) {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
}
#endif

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 256;
    if (n <= 0 || n > 8192) {
        fprintf(stderr, "matmul: n must be 1..8192, got %d\n", n);
        return 2;
    }
    std::vector<float> a((size_t)n * n), b((size_t)n * n), c((size_t)n * n);
    for (int i = 0; i < n * n; i++) {
        a[i] = (float)(i % 9 - 2);
        b[i] = (float)(i % 4 + 1);
    }
    auto start = std::chrono::steady_clock::now();
    multiply(a.data(), b.data(), c.data(), n);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

    // Check a few entries against a plain dot product, and sum them all.
    int bad = 0;
    for (int s = 0; s < 16; s++) {
        int i = (s * 7919) % n, j = (s * 104729) % n;
        double want = 0;
        for (int k = 0; k < n; k++) {
            want += (double)a[i * n + k] * b[k * n + j];
        }
        if (want != c[i * n + j]) {
            bad++;
        }
    }
    long long checksum = 0;
    for (int i = 0; i < n * n; i++) {
        checksum += (long long)c[i];
    }
    printf("matmul: device=%s n=%d checksum=%lld mismatches=%d time=%.3fms\n", device, n, checksum, bad, ms);
    return bad == 0 ? 0 : 1;
}

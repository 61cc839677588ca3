// add adds two vectors of n floats: on the GPU when built with nvcc, on
// the CPU (the same computation, the fallback) when built as C++ (c++ -x
// c++). Entries are small integers, so the checksum (the sum of the
// result) is the same number wherever it runs.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#ifdef __CUDACC__
#include <cuda_runtime.h>

static const char *device = "gpu";

__global__ void add_kernel(const float *a, const float *b, float *c, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        c[i] = a[i] + b[i];
    }
}

static void check(cudaError_t err, const char *what) {
    if (err != cudaSuccess) {
        fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(err));
        exit(1);
    }
}

static void add(const float *a, const float *b, float *c, int n) {
    size_t bytes = (size_t)n * sizeof(float);
    float *da, *db, *dc;
    check(cudaMalloc(&da, bytes), "cudaMalloc a");
    check(cudaMalloc(&db, bytes), "cudaMalloc b");
    check(cudaMalloc(&dc, bytes), "cudaMalloc c");
    check(cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice), "copy a");
    check(cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice), "copy b");
    add_kernel<<<(n + 255) / 256, 256>>>(da, db, dc, n);
    check(cudaGetLastError(), "launch");
    check(cudaMemcpy(c, dc, bytes, cudaMemcpyDeviceToHost), "copy c");
    cudaFree(da);
    cudaFree(db);
    cudaFree(dc);
}
#else
static const char *device = "cpu";

// add is the kernel's computation on the CPU.
static void add(const float *a, const float *b, float *c, int n) {
    for (int i = 0; i < n; i++) {
        c[i] = a[i] + b[i];
    }
}
#endif

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1 << 20;
    if (n <= 0) {
        fprintf(stderr, "add: n must be positive, got %d\n", n);
        return 2;
    }
    std::vector<float> a(n), b(n), c(n);
    for (int i = 0; i < n; i++) {
        a[i] = (float)(i % 1000);
        b[i] = (float)(2 * (i % 777));
    }
    auto start = std::chrono::steady_clock::now();
    add(a.data(), b.data(), c.data(), n);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    int bad = 0;
    long long checksum = 0;
    for (int i = 0; i < n; i++) {
        if (c[i] != a[i] + b[i]) {
            bad++;
        }
        checksum += (long long)c[i];
    }
    printf("add: device=%s n=%d checksum=%lld mismatches=%d time=%.3fms\n", device, n, checksum, bad, ms);
    return bad == 0 ? 0 : 1;
}

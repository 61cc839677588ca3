// matmul multiplies two random n x n matrices on the GPU and checks a few
// entries of the product against the CPU.
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cuda_runtime.h>

#define TILE 16

__global__ void matmul(const float *a, const float *b, float *c, int n) {
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

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1024;
    size_t bytes = (size_t)n * n * sizeof(float);
    float *a = (float *)malloc(bytes), *b = (float *)malloc(bytes), *c = (float *)malloc(bytes);
    srand(42);
    for (int i = 0; i < n * n; i++) {
        a[i] = (float)rand() / RAND_MAX;
        b[i] = (float)rand() / RAND_MAX;
    }

    float *da, *db, *dc;
    check(cudaMalloc(&da, bytes), "cudaMalloc a");
    check(cudaMalloc(&db, bytes), "cudaMalloc b");
    check(cudaMalloc(&dc, bytes), "cudaMalloc c");
    check(cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice), "copy a");
    check(cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice), "copy b");

    dim3 threads(TILE, TILE);
    dim3 grid((n + TILE - 1) / TILE, (n + TILE - 1) / TILE);
    cudaEvent_t start, stop;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    cudaEventRecord(start);
    matmul<<<grid, threads>>>(da, db, dc, n);
    cudaEventRecord(stop);
    check(cudaGetLastError(), "launch");
    check(cudaMemcpy(c, dc, bytes, cudaMemcpyDeviceToHost), "copy c");
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);

    int bad = 0;
    for (int s = 0; s < 16; s++) {
        int i = rand() % n, j = rand() % n;
        double want = 0;
        for (int k = 0; k < n; k++) {
            want += (double)a[i * n + k] * b[k * n + j];
        }
        if (fabs(want - c[i * n + j]) > 1e-3 * fabs(want) + 1e-3) {
            bad++;
        }
    }
    printf("n=%d time=%.3fms gflops=%.1f mismatches=%d\n", n, ms,
           2.0 * n * n * n / (ms * 1e6), bad);

    cudaFree(da);
    cudaFree(db);
    cudaFree(dc);
    free(a);
    free(b);
    free(c);
    return bad == 0 ? 0 : 1;
}

// kernels.cu: the CUDA kernels of dtf-cuda-bench (bench.c), compiled by nvcc into a fat binary
// (SASS for sm_80 and sm_90, PTX for later GPUs) that bench.c embeds and loads through the
// driver API. extern "C" keeps the names unmangled for cuModuleGetFunction. All matrices are
// n x n, row-major, FP32.

// The textbook tiled kernel: a 32 x 32 block of threads, one output each; A's and B's tiles go
// through shared memory, so each input element is read from global memory n / 32 times instead
// of n times. Any n.
extern "C" __global__ void sgemm_tiled(int n, const float *__restrict__ A,
				       const float *__restrict__ B, float *__restrict__ C)
{
	__shared__ float As[32][32];
	__shared__ float Bs[32][33]; // +1: column reads hit 32 different banks
	const int tx = threadIdx.x, ty = threadIdx.y;
	const int row = blockIdx.y * 32 + ty, col = blockIdx.x * 32 + tx;
	float acc = 0.0f;

	for (int k0 = 0; k0 < n; k0 += 32) {
		As[ty][tx] = row < n && k0 + tx < n ? A[(size_t)row * n + k0 + tx] : 0.0f;
		Bs[ty][tx] = k0 + ty < n && col < n ? B[(size_t)(k0 + ty) * n + col] : 0.0f;
		__syncthreads();
#pragma unroll
		for (int k = 0; k < 32; k++)
			acc += As[ty][k] * Bs[k][tx];
		__syncthreads();
	}
	if (row < n && col < n)
		C[(size_t)row * n + col] = acc;
}

// The same idea one level further: a block of 256 threads computes a 128 x 128 tile of C, each
// thread an 8 x 8 patch held in registers, so each value read from shared memory is used 8
// times. Shared tiles are 128 x 8 of A (stored transposed) and 8 x 128 of B. n must be a
// multiple of 128 (bench.c uses sgemm_tiled otherwise).
#define BM 128
#define BN 128
#define BK 8
#define TM 8
#define TN 8

extern "C" __global__ void __launch_bounds__(256)
    sgemm_blocked(int n, const float *__restrict__ A, const float *__restrict__ B,
		  float *__restrict__ C)
{
	__shared__ float As[BK][BM];
	__shared__ float Bs[BK][BN];
	const int tid = threadIdx.x;
	const int trow = tid / (BN / TN), tcol = tid % (BN / TN); // 16 x 16 threads
	const float *Ab = A + (size_t)blockIdx.y * BM * n;
	const float *Bb = B + (size_t)blockIdx.x * BN;
	float acc[TM][TN];
	float a[TM], b[TN];

#pragma unroll
	for (int i = 0; i < TM; i++)
#pragma unroll
		for (int j = 0; j < TN; j++)
			acc[i][j] = 0.0f;
	for (int k0 = 0; k0 < n; k0 += BK) {
		// 1024 elements of each tile, 4 per thread.
#pragma unroll
		for (int r = 0; r < 4; r++) {
			const int i = tid + 256 * r;
			const int m = i / BK, k = i % BK;
			As[k][m] = Ab[(size_t)m * n + k0 + k];
		}
#pragma unroll
		for (int r = 0; r < 4; r++) {
			const int i = tid + 256 * r;
			const int k = i / BN, c = i % BN;
			Bs[k][c] = Bb[(size_t)(k0 + k) * n + c];
		}
		__syncthreads();
#pragma unroll
		for (int k = 0; k < BK; k++) {
#pragma unroll
			for (int i = 0; i < TM; i++)
				a[i] = As[k][trow * TM + i];
#pragma unroll
			for (int j = 0; j < TN; j++)
				b[j] = Bs[k][tcol * TN + j];
#pragma unroll
			for (int i = 0; i < TM; i++)
#pragma unroll
				for (int j = 0; j < TN; j++)
					acc[i][j] += a[i] * b[j];
		}
		__syncthreads();
	}
#pragma unroll
	for (int i = 0; i < TM; i++)
#pragma unroll
		for (int j = 0; j < TN; j++)
			C[(size_t)(blockIdx.y * BM + trow * TM + i) * n + blockIdx.x * BN +
			  tcol * TN + j] = acc[i][j];
}

// A grid-stride copy of n4 float4s: the bandwidth a kernel gets, next to cuMemcpyDtoD's.
extern "C" __global__ void copy_f4(size_t n4, const float4 *__restrict__ src,
				   float4 *__restrict__ dst)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4;
	     i += (size_t)gridDim.x * blockDim.x)
		dst[i] = src[i];
}

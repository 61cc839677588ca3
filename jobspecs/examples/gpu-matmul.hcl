# Needs a Slurm cluster (the gpu-slurm driver; scripts/slurm.sh starts one
# on localhost). A GPU batch job: the gpu-slurm driver stages matmul.cu in
# the task's directory and submits matmul.slurm with sbatch, asking for one
# GPU. The script builds the CUDA kernel with nvcc where there are nvcc and
# a GPU, else the CPU fallback of the same source, and prints which it ran
# and a checksum of the product (the same on both).
job "matmul" {
  type = "batch"

  group "matmul" {
    restart {
      attempts = 0
      mode     = "fail"
    }

    task "matmul" {
      driver = "gpu-slurm"
      config {
        script    = file("matmul.slurm")
        files     = { "matmul.cu" = file("matmul.cu") }
        gpus      = 1
        partition = "gpu"
        time      = "10m"
        env       = { MATMUL_N = "256" }
      }
    }
  }
}

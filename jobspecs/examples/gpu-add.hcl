# Needs a Slurm cluster (the gpu-slurm driver; scripts/slurm.sh starts one
# on localhost). Adds two vectors on a GPU through Slurm: the gpu-slurm
# driver stages add.cu and submits add.slurm with sbatch, asking for one
# GPU; the script builds the CUDA kernel with nvcc where there are nvcc and
# a GPU, else the CPU fallback of the same source, and prints which it ran
# and a checksum of the sum (the same on both).
job "add" {
  type = "batch"

  group "add" {
    restart {
      attempts = 0
      mode     = "fail"
    }

    task "add" {
      driver = "gpu-slurm"
      config {
        script    = file("add.slurm")
        files     = { "add.cu" = file("add.cu") }
        gpus      = 1
        partition = "gpu"
        time      = "10m"
        env       = { ADD_N = "1048576" }
      }
    }
  }
}

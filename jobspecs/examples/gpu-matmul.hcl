# Needs the gpu-slurm driver (a Slurm cluster with GPUs), which mk does not
# have yet. A GPU batch job: the gpu-slurm driver submits matmul.slurm with
# sbatch, with matmul.cu copied beside it.
job "matmul" {
  type = "batch"

  group "matmul" {
    task "matmul" {
      driver = "gpu-slurm"
      config {
        script    = file("matmul.slurm")
        files     = { "matmul.cu" = file("matmul.cu") }
        gpus      = 1
        partition = "gpu"
        time      = "10m"
      }
    }
  }
}

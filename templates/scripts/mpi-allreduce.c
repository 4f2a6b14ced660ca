/* The MPI program verify runs across a cluster's nodes (`srun --mpi=pmix`),
 * built with the package's own mpicc and carried in it under
 * libexec/slurm-factory/: each rank prints its rank, the size and its host,
 * and the sum of the ranks (an allreduce) is checked against n(n-1)/2. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	int rank, size, length, sum = 0, expected;
	char host[MPI_MAX_PROCESSOR_NAME];

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Get_processor_name(host, &length);
	printf("rank %d of %d on %s\n", rank, size, host);
	fflush(stdout);
	MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	expected = size * (size - 1) / 2;
	if (rank == 0)
		printf("allreduce: sum of ranks %d, expected %d\n", sum, expected);
	MPI_Finalize();
	return sum == expected ? 0 : 1;
}

package structs

// knownStrings are the values that recur in nearly every stored object
// (namespace, kinds, statuses, phases, types, drivers). The generated
// decoders (structs.generated.go) return these instead of a new copy, so
// a pod or job in the state store does not hold its own "default",
// "ReplicaSet", "run" or "pending": fewer allocations per log entry and
// fewer objects for the GC to keep.
var knownStrings = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		DefaultNamespace,
		JobTypeService, JobTypeBatch, JobTypeSystem, JobTypeFunction,
		JobStatusPending, JobStatusRunning, JobStatusDead,
		NodeStatusInit, NodeStatusReady, NodeStatusDown, NodeStatusLeft, NodeEligible, NodeIneligible,
		LabelJob, LabelGroup, LabelJobType,
		ServiceTypeClusterIP, ServiceTypeNodePort,
		KindDeployment, KindReplicaSet, KindService, KindAutoscaler, KindIngress,
		PodPhasePending, PodPhaseRunning, PodPhaseSucceeded, PodPhaseFailed, PodPhaseLost,
		PodDesiredRun, PodDesiredStop,
		TaskStatePending, TaskStateRunning, TaskStateRestarting, TaskStateDead,
		OwnerReplicaSet, OwnerJob,
		DriverDocker, DriverExec, DriverGPUSlurm,
		VolumeTypeEphemeral, VolumeTypeHost, RestartModeDelay, RestartModeFail,
		"tcp", "udp", "TCP", "UDP",
	} {
		m[s] = s
	}
	return m
}()

// decodedString is the string of a decoded msgpack value: a known one
// shared, any other copied out of the decoder's buffer.
func decodedString(b []byte) string {
	if s, ok := knownStrings[string(b)]; ok { // no allocation for the lookup
		return s
	}
	return string(b)
}

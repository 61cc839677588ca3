package jobspecs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/mk-orchestrator/mk/structs"
)

// Translate derives the objects a job stands for: a service group becomes a
// Deployment and the ReplicaSet of its current template; service blocks
// become Services, scaling an Autoscaler, ingress an Ingress. Batch and
// system groups have no Deployment: their pods are owned by the job. The
// result is a pure function of the job, so every server derives the same
// IDs without randomness.
func Translate(job *structs.Job) (*structs.JobObjects, error) {
	objs := &structs.JobObjects{}
	if job.Stop {
		return objs, nil
	}
	for _, g := range job.Groups {
		// One map for the labels and selectors of all the group's objects:
		// stored objects are immutable, as every server's state store
		// shares equal maps anyway (state.labelSets).
		labels := map[string]string{structs.LabelJob: job.ID, structs.LabelGroup: g.Name}
		meta := func(id string) structs.ObjectMeta {
			return structs.ObjectMeta{ID: id, Name: id, Namespace: job.Namespace, Labels: labels}
		}
		groupID := job.ID + "-" + g.Name
		if job.Type == structs.JobTypeService {
			rs, err := replicaSetFor(job, g, groupID, labels)
			if err != nil {
				return nil, err
			}
			rs.ObjectMeta = meta(rs.ID)
			objs.ReplicaSets = append(objs.ReplicaSets, rs)
			objs.Deployments = append(objs.Deployments, &structs.Deployment{
				ObjectMeta:   meta(groupID),
				JobID:        job.ID,
				Group:        g.Name,
				ReplicaSetID: rs.ID,
				Strategy:     structs.Copy(g.Update),
				Status:       structs.DeploymentStatusRunning,
				Replicas:     g.Count,
			})
		}
		for _, svc := range g.Services {
			objs.Services = append(objs.Services, serviceFor(job, g, svc, meta(svc.Name), labels))
		}
		if sc := g.Scaling; sc != nil && job.Type == structs.JobTypeService {
			objs.Autoscalers = append(objs.Autoscalers, &structs.Autoscaler{
				ObjectMeta:        meta(groupID),
				JobID:             job.ID,
				Group:             g.Name,
				TargetDeployment:  groupID,
				Min:               sc.Min,
				Max:               sc.Max,
				CPUPercent:        sc.CPUPercent,
				MemoryPercent:     sc.MemoryPercent,
				ScaleUpCooldown:   sc.ScaleUpCooldown,
				ScaleDownCooldown: sc.ScaleDownCooldown,
			})
		}
		if in := g.Ingress; in != nil {
			objs.Ingresses = append(objs.Ingresses, &structs.Ingress{
				ObjectMeta: meta(groupID),
				JobID:      job.ID,
				Group:      g.Name,
				Host:       in.Host,
				Rules:      structs.Copy(in.Paths),
			})
		}
	}
	return objs, nil
}

func replicaSetFor(job *structs.Job, g *structs.TaskGroup, groupID string, labels map[string]string) (*structs.ReplicaSet, error) {
	hash, err := TemplateHash(g)
	if err != nil {
		return nil, fmt.Errorf("job %q group %q: %w", job.ID, g.Name, err)
	}
	return &structs.ReplicaSet{
		ObjectMeta:   structs.ObjectMeta{ID: groupID + "-" + hash},
		JobID:        job.ID,
		Group:        g.Name,
		DeploymentID: groupID,
		TemplateHash: hash,
		Replicas:     g.Count,
		Selector:     labels,
		// Shared with the job, not copied: stored objects are immutable.
		Template: g,
	}, nil
}

func serviceFor(job *structs.Job, g *structs.TaskGroup, svc *structs.ServiceSpec, meta structs.ObjectMeta, labels map[string]string) *structs.Service {
	target := g.ServicePort(svc)
	return &structs.Service{
		ObjectMeta: meta,
		JobID:      job.ID,
		Group:      g.Name,
		Type:       svc.Type,
		Selector:   labels,
		Ports: []*structs.ServicePort{{
			Name:       svc.Port,
			Protocol:   svc.ProtocolOrDefault(),
			Port:       target,
			TargetPort: target,
			NodePort:   svc.NodePort,
		}},
		Checks:          structs.Copy(svc.Checks),
		SessionAffinity: svc.SessionAffinity,
	}
}

// TemplateHash is a short hash of a group's pod template. Count, scaling,
// update and ingress settings are left out: changing them must not
// replace pods.
func TemplateHash(g *structs.TaskGroup) (string, error) {
	t := *g
	t.Count, t.Scaling, t.Update, t.Ingress = 0, nil, nil, nil
	buf, err := json.Marshal(&t)
	if err != nil {
		return "", fmt.Errorf("hash template: %w", err)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])[:10], nil
}

package main

// Experiment 1: EE overhead and fidelity (experiments/eebench).

import "github.com/hssee/hssee/experiments/internal/records"

type eeRun struct {
	Label string   `json:"label"`   // what the row is (weights, prompts)
	Args  []string `json:"command"` // eebench flags
	records.EERun
}

type eeResults struct {
	Runs []eeRun `json:"runs"`
}

func runEE(o *options) (*eeResults, error) {
	dir, eval := o.tinystories()
	type job struct {
		label string
		args  []string
	}
	var jobs []job
	real := func(extra ...string) {
		if dir != "" {
			args := append([]string{"-model", dir}, extra...)
			label := "tinystories-656k, real weights"
			if eval != "" {
				args = append(args, "-eval", eval)
				label += ", ../shared/eval prompts"
			}
			jobs = append(jobs, job{label, args})
		} else {
			jobs = append(jobs, job{"tinystories-656k shape, RANDOM weights (../shared absent), random prompts",
				append([]string{"-preset", "tinystories-656k"}, extra...)})
		}
	}
	preset := func(name string, extra ...string) {
		jobs = append(jobs, job{name + " shape, random weights, random prompts", append([]string{"-preset", name}, extra...)})
	}
	switch o.scale {
	case full:
		real("-runs", "9")
		preset("stories15M", "-runs", "5")
		preset("stories110M", "-runs", "3", "-prompt-len", "64", "-decode", "32", "-prompts", "4", "-gen", "32")
	case quick:
		real("-runs", "3")
		preset("stories15M", "-runs", "2", "-prompt-len", "64", "-decode", "16", "-prompts", "3", "-gen", "16")
	default:
		real("-runs", "1", "-prompt-len", "16", "-decode", "8", "-prompts", "2", "-gen", "8")
	}
	res := &eeResults{}
	for _, j := range jobs {
		var r eeRun
		if err := o.program("eebench", &r, j.args...); err != nil {
			return nil, err
		}
		r.Label, r.Args = j.label, j.args
		res.Runs = append(res.Runs, r)
	}
	return res, nil
}

package nn

import "math"

// Schedule gives the learning rate for a step (counted from 0). Schedules
// are pure functions of the step, so a resumed run gets the same rates.
type Schedule interface {
	LR(step int) float64
}

// Constant keeps the learning rate fixed.
type Constant struct{ Base float64 }

// LR implements Schedule.
func (c Constant) LR(int) float64 { return c.Base }

// StepDecay multiplies the rate by Gamma every Every steps, as PyTorch's
// StepLR: lr = base · gamma^⌊step/every⌋.
type StepDecay struct {
	Base  float64
	Every int
	Gamma float64
}

// LR implements Schedule.
func (s StepDecay) LR(step int) float64 {
	if s.Every <= 0 {
		return s.Base
	}
	return s.Base * math.Pow(s.Gamma, float64(step/s.Every))
}

// Cosine anneals from Base to Min over Total steps along half a cosine, as
// PyTorch's CosineAnnealingLR, and stays at Min afterwards.
type Cosine struct {
	Base, Min float64
	Total     int
}

// LR implements Schedule.
func (c Cosine) LR(step int) float64 {
	if c.Total <= 0 || step >= c.Total {
		return c.Min
	}
	return c.Min + (c.Base-c.Min)*(1+math.Cos(math.Pi*float64(step)/float64(c.Total)))/2
}

// Warmup rises linearly from Base/Steps at step 0 to the rate of Then at
// step Steps−1, then follows Then shifted by Steps (so Then starts its own
// count when the warm-up ends).
type Warmup struct {
	Steps int
	Then  Schedule
}

// LR implements Schedule.
func (w Warmup) LR(step int) float64 {
	if step < w.Steps {
		return w.Then.LR(0) * float64(step+1) / float64(w.Steps)
	}
	return w.Then.LR(step - w.Steps)
}

package label

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Fold returns s in Unicode compatibility form (NFKC: full-width and other
// look-alike characters become their plain forms, as spammers use them to
// dodge filters) and lower case.
func Fold(s string) string { return strings.ToLower(norm.NFKC.String(s)) }

// Words splits s, folded by Fold, into words: maximal runs of letters,
// digits and apostrophes, with apostrophes trimmed from the ends. It is the
// tokenizer of the keyword helpers and of the text featurizer.
func Words(s string) []string {
	s = Fold(s)
	var out []string
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := strings.Trim(s[start:end], "'’")
		if w != "" {
			out = append(out, w)
		}
		start = -1
	}
	for i, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '’' {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(s))
	return out
}

// UpperRatio returns the fraction of s's letters that are upper case, 0
// when s has no letters.
func UpperRatio(s string) float64 {
	letters, upper := 0, 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters == 0 {
		return 0
	}
	return float64(upper) / float64(letters)
}

// A small sentiment lexicon, written for Kiln: common English opinion words
// of clear polarity. It stands in for TextBlob's polarity in labeling
// functions; it is a heuristic, not a sentiment model.
var (
	positiveWords = wordSet(`love loved loves lovely like liked likes amazing awesome beautiful best better
		brilliant cool cute enjoy enjoyed excellent fantastic favorite favourite fun funny glad good gorgeous
		great happy incredible legend legendary magnificent masterpiece nice perfect pretty sexy super sweet
		talented thanks wonderful wow catchy epic beast`)
	negativeWords = wordSet(`awful bad boring crap dislike disgusting fake hate hated hates horrible lame
		poor sad shit stupid sucks terrible trash ugly worse worst annoying dumb idiot pathetic waste`)
	negators = wordSet(`not no never don't dont doesn't doesnt isn't isnt wasn't wasnt can't cant won't wont`)
)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// Polarity scores s's sentiment in [-1, 1] with the built-in lexicon:
// (positive - negative) / (positive + negative) over its opinion words, a
// negator ("not", "never", ...) flipping the next opinion word within two
// words; 0 when s has no opinion word.
func Polarity(s string) float64 {
	pos, neg := 0, 0
	flip := 0
	for _, w := range Words(s) {
		switch {
		case negators[w]:
			flip = 3
		case positiveWords[w], negativeWords[w]:
			p := positiveWords[w]
			if flip > 0 {
				p = !p
			}
			if p {
				pos++
			} else {
				neg++
			}
			flip = 0
		}
		if flip > 0 {
			flip--
		}
	}
	if pos+neg == 0 {
		return 0
	}
	return float64(pos-neg) / float64(pos+neg)
}

package netem

const maxStampAgeForTest = maxStampAge

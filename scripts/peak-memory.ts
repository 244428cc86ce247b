/** The highest resident memory of this process while `body` runs, sampled every 50 ms. */
export async function peakMemory<T>(body: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  let peak = process.memoryUsage.rss()
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50)
  try {
    const result = await body()
    return { result, peakMiB: Math.max(peak, process.memoryUsage.rss()) / 1024 / 1024 }
  } finally {
    clearInterval(sampler)
  }
}

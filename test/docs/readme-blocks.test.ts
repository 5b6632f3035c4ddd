import { describe, expect, it } from 'vitest';
import { samplesMissing, shellBlocks } from './readme-blocks.js';

const fence = '```';

describe("the README's shell blocks", () => {
  it('reads a transcript as commands after "$ " and the lines below each as its output', () => {
    const [block] = shellBlocks(
      ['## Run', '', `${fence}sh`, '$ telemetry a \\', '    --flag', 'out 1', '$ telemetry b', `${fence}`].join('\n'),
    );
    expect(block?.section).toBe('Run');
    expect(block?.commands).toEqual([
      { text: 'telemetry a \\\n    --flag', samples: ['out 1'] },
      { text: 'telemetry b', samples: [] },
    ]);
  });

  it('reads comments right below a command as its output, and comments after a blank line as prose', () => {
    const [block] = shellBlocks(
      ['### Query', `${fence}sh`, '# prose', 'query x', '# row 1', '', '# more prose', 'query y', `${fence}`].join(
        '\n',
      ),
    );
    expect(block?.commands).toEqual([
      { text: 'query x', samples: ['row 1'] },
      { text: 'query y', samples: [] },
    ]);
  });

  it('skips blocks in other languages', () => {
    expect(shellBlocks([`${fence}json`, '{}', fence, `${fence}`, 'tree', fence].join('\n'))).toEqual([]);
  });
});

describe('comparing output with a sample', () => {
  it('accepts other numbers, times and ports, and more lines between', () => {
    const output = 'header\nok: 98 devices over http for 30.2 s\nnoise\n  connected  98/98 at 2026-12-04T22:00:00.000Z';
    const samples = ['ok: 100 devices over http for 31.0 s', '  connected 100/100 at 2026-11-28T11:58:01.123Z'];
    expect(samplesMissing(samples, output)).toEqual([]);
  });

  it('reads … as anything, within a line and as lines left out', () => {
    expect(
      samplesMissing(['{"code":"ERR_X","message":"too … late"}', '…'], '{"code":"ERR_X","message":"too very late"}'),
    ).toEqual([]);
  });

  it('names the sample lines the output lacks or shows in another order or with other words', () => {
    expect(samplesMissing(['errors none', 'b', 'a'], 'errors ERR_TIMESTAMP_UNIT 3\na\nb')).toEqual([
      'errors none',
      'a',
    ]);
  });
});

/**
 * Runs one admin console line against a command table with scripted answers to its questions, as the serial
 * console would; asserts every answer was asked for. The transcript keeps output and questions in order ("? "
 * marks a question).
 */
import assert from 'node:assert/strict';
import { type CommandTable, splitWords } from '../../src/admin/command-table.js';

/** A scripted answer: yes/no, or a function run when the question comes (to act between question and answer). */
export type ScriptedAnswer = boolean | (() => boolean | Promise<boolean>);

export interface ConsoleRun {
  out: string;
  questions: string[];
  transcript: string;
}

export async function runConsoleLine(table: CommandTable, line: string, answers: ScriptedAnswer[] = []): Promise<ConsoleRun> {
  const out: string[] = [];
  const questions: string[] = [];
  const transcript: string[] = [];
  const found = table.find(splitWords(line));
  assert.ok(found, `no console command "${line}"`);
  table.checkArgs(found);
  await found.command.run(found.args, {
    out: (t) => {
      out.push(t);
      transcript.push(t);
    },
    confirm: async (q) => {
      questions.push(q);
      transcript.push(`? ${q}`);
      const a = answers.shift();
      assert.notEqual(a, undefined, `unexpected question after "${line}": ${q}`);
      return typeof a === 'function' ? a() : a!;
    },
    secret: async () => assert.fail(`"${line}" asked for a secret`),
  });
  assert.equal(answers.length, 0, `questions left unasked after "${line}"`);
  return { out: out.join('\n'), questions, transcript: transcript.join('\n') };
}

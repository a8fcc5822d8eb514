/** The no-op activity of the prototype workflows: returns at once, so what is measured is orchestration. */
export const prototypeActivities = {
  step(_index: number): Promise<number> {
    return Promise.resolve(1);
  },
};

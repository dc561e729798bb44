// `npx plop <generator>` runs the same feature generators as `npx xms add <generator>`.
export default async function (plop) {
  const { registerGenerators } = await import('create-xms-app/plop');
  await registerGenerators(plop);
}

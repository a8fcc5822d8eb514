/** The capacity controller and what `custody capacity` shares with it. */
export { startCapacityController, ControllerSetupError, type RunningCapacityController } from './controller';
export type { CapacityControllerOptions } from './controller';
